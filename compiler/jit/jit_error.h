#pragma once
// Errors of the JIT layer as our own values (llvm::Error never leaves compiler/jit).

#include <string>
#include <utility>
#include <variant>

namespace nnspec::jit {

// Every JIT failure is an internal error (the graph was already checked): the message
// says which stage failed, e.g. "codegen: ...", "jit: symbol not found ...".
struct JitError {
  std::string message;
};

template <class T>
class Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}
  Expected(JitError error) : state_(std::move(error)) {}
  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const { return std::get<0>(state_); }
  T& value() { return std::get<0>(state_); }
  const JitError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, JitError> state_;
};

}  // namespace nnspec::jit

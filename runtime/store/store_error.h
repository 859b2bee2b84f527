#pragma once
// Errors of the result store are values, as in runtime/data/dataset.h: every fallible
// call returns StoreResult<T>, holding either the value or a StoreError that names the
// store file, says what is wrong and how to fix it.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace nnspec::rt {

struct StoreError {
  std::string path;     // the store file ("" when not about one file)
  std::string message;  // lowercase, e.g. "file is not a database"
  std::string hint;     // the fix, e.g. "pass --store with another file name" ("" if none)
  bool busy = false;    // another connection held a lock SQLite did not wait for: worth a retry
};

template <class T>
class [[nodiscard]] StoreResult {
 public:
  StoreResult(T value) : state_(std::move(value)) {}
  StoreResult(StoreError error) : state_(std::move(error)) {}
  bool ok() const { return state_.index() == 0; }
  const T& value() const { return std::get<0>(state_); }
  T& value() { return std::get<0>(state_); }
  const StoreError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, StoreError> state_;
};

// A call that returns nothing but may fail.
template <>
class [[nodiscard]] StoreResult<void> {
 public:
  StoreResult() = default;
  StoreResult(StoreError error) : error_(std::move(error)) {}
  bool ok() const { return !error_.has_value(); }
  const StoreError& error() const { return *error_; }

 private:
  std::optional<StoreError> error_;
};

}  // namespace nnspec::rt

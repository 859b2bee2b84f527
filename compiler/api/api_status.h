#pragma once
// The C API's error convention: every entry point runs inside guard(), which clears the
// thread's last error, catches every exception and turns it into
// NNSPEC_STATUS_INTERNAL_ERROR with its message. Failures are reported with fail(),
// which keeps the message for nnspec_last_error().
//
// The last error is a thread_local string (the one piece of global state in the library,
// by design: C callers read it right after a failed call on the same thread).

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>

#include "nnspec/nnspec.h"

namespace nnspec::api {

// Keeps `message` as the calling thread's last error and returns `status`.
nnspec_status fail(nnspec_status status, std::string message);
const std::string& lastError();
void clearLastError();

// Runs `body` (returning nnspec_status); no exception leaves it.
template <class Body>
nnspec_status guard(Body&& body) noexcept {
  try {
    clearLastError();
    return body();
  } catch (const std::bad_alloc&) {
    return fail(NNSPEC_STATUS_INTERNAL_ERROR, "internal error: out of memory");
  } catch (const std::exception& exception) {
    return fail(NNSPEC_STATUS_INTERNAL_ERROR, std::string("internal error: ") + exception.what());
  } catch (...) {
    return fail(NNSPEC_STATUS_INTERNAL_ERROR, "internal error: an exception of unknown type");
  }
}

// Whether `index` is a valid position in a container of `size` elements; when not, the
// last error says so (the caller returns NNSPEC_STATUS_BAD_ARGUMENT).
bool checkIndex(int64_t index, size_t size, const char* what);

// For the NULL checks every entry point starts with.
inline nnspec_status badArgument(const char* what) {
  return fail(NNSPEC_STATUS_BAD_ARGUMENT, std::string(what) + " is NULL");
}

}  // namespace nnspec::api

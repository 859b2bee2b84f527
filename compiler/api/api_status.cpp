#include "compiler/api/api_status.h"

namespace nnspec::api {
namespace {

std::string& lastErrorSlot() {
  thread_local std::string message;
  return message;
}

}  // namespace

nnspec_status fail(nnspec_status status, std::string message) {
  try {
    lastErrorSlot() = std::move(message);
  } catch (...) {
    lastErrorSlot().clear();  // out of memory while copying the message: keep the status
  }
  return status;
}

const std::string& lastError() { return lastErrorSlot(); }

void clearLastError() { lastErrorSlot().clear(); }

bool checkIndex(int64_t index, size_t size, const char* what) {
  if (index >= 0 && static_cast<uint64_t>(index) < size) return true;
  fail(NNSPEC_STATUS_BAD_ARGUMENT,
       std::string(what) + " index " + std::to_string(index) + " is out of range (" + std::to_string(size) + ")");
  return false;
}

}  // namespace nnspec::api

#pragma once
// Test helpers for StoreResult values: the value or a failed test that says why.

#include <catch2/catch.hpp>

#include <utility>

#include "runtime/store/store_error.h"

namespace nnspec::test {

template <class T>
T require(rt::StoreResult<T> result) {
  if (!result.ok()) FAIL(result.error().message << " (hint: " << result.error().hint << ")");
  return std::move(result.value());
}

inline void require(rt::StoreResult<void> result) {
  if (!result.ok()) FAIL(result.error().message << " (hint: " << result.error().hint << ")");
}

template <class T>
rt::StoreError requireError(rt::StoreResult<T> result) {
  REQUIRE_FALSE(result.ok());
  return result.error();
}

}  // namespace nnspec::test

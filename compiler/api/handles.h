#pragma once
// What the C API's opaque handles are. Each is made by an nnspec_*_open/create function
// with std::make_unique and released to the caller; its *_free takes it back into a
// unique_ptr.

#include <memory>
#include <utility>
#include <vector>

#include "compiler/api/run_session.h"
#include "compiler/api/spec_check.h"
#include "compiler/api/store_view.h"
#include "compiler/driver/predictor.h"
#include "nnspec/nnspec.h"

struct nnspec_spec {
  template <class... Args>
  explicit nnspec_spec(Args&&... args) : check(std::forward<Args>(args)...) {}
  nnspec::api::SpecCheck check;
};

struct nnspec_data {
  template <class... Args>
  explicit nnspec_data(Args&&... args) : rows(std::forward<Args>(args)...) {}
  nnspec::api::DataRows rows;
};

struct nnspec_run {
  template <class... Args>
  explicit nnspec_run(Args&&... args) : session(std::forward<Args>(args)...) {}
  nnspec::api::RunSession session;
};

struct nnspec_model {
  template <class... Args>
  explicit nnspec_model(Args&&... args) : predictor(std::forward<Args>(args)...) {}
  nnspec::driver::Predictor predictor;
};

struct nnspec_store {
  template <class... Args>
  explicit nnspec_store(Args&&... args) : view(std::forward<Args>(args)...) {}
  nnspec::api::StoreView view;
};

struct nnspec_trials {
  template <class... Args>
  explicit nnspec_trials(Args&&... args) : trials(std::forward<Args>(args)...) {}
  std::vector<nnspec::api::TrialView> trials;
};

namespace nnspec::api {

// Hands `handle` to a C caller.
template <class Handle>
nnspec_status release(std::unique_ptr<Handle> handle, Handle** out) {
  *out = handle.release();
  return NNSPEC_STATUS_OK;
}

}  // namespace nnspec::api

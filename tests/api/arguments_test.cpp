// Bad arguments come back as statuses with a message, never a crash.

#include <string>

#include <catch2/catch.hpp>

#include "nnspec/nnspec.h"
#include "tests/api/api_test_support.h"

TEST_CASE("every status has a name and the version is the project's", "[api]") {
  for (int status = NNSPEC_STATUS_OK; status <= NNSPEC_STATUS_INTERNAL_ERROR; ++status) {
    CHECK(std::string(nnspec_status_name(static_cast<nnspec_status>(status))) != "unknown status");
  }
  CHECK(std::string(nnspec_status_name(static_cast<nnspec_status>(99))) == "unknown status");
  CHECK(std::string(nnspec_version()) == "0.1.0");
}

TEST_CASE("NULL handles and pointers are bad arguments with a message", "[api]") {
  nnspec_spec* spec = nullptr;
  CHECK(nnspec_spec_open_file(nullptr, &spec) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(std::string(nnspec_last_error()) == "path is NULL");
  CHECK(nnspec_spec_open_file("x.nnspec", nullptr) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_spec_open_string(nullptr, "x", &spec) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_spec_open_string("experiment x", nullptr, &spec) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_spec_check(nullptr) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_spec_set_override(nullptr, "a", "1") == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_spec_select_sweep(nullptr, "a") == NNSPEC_STATUS_BAD_ARGUMENT);
  int64_t count = 0;
  CHECK(nnspec_spec_diagnostic_count(nullptr, &count) == NNSPEC_STATUS_BAD_ARGUMENT);
  const char* text = nullptr;
  CHECK(nnspec_spec_plan_text(nullptr, &text) == NNSPEC_STATUS_BAD_ARGUMENT);
  nnspec_run* run = nullptr;
  CHECK(nnspec_run_create(nullptr, "s.sqlite", &run) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_run_execute(nullptr, nullptr) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_run_cancel(nullptr) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_run_model_count(nullptr, &count) == NNSPEC_STATUS_BAD_ARGUMENT);
  float value = 0;
  CHECK(nnspec_model_predict(nullptr, &value, 1, &value) == NNSPEC_STATUS_BAD_ARGUMENT);
  nnspec_store* store = nullptr;
  CHECK(nnspec_store_open(nullptr, &store) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_trials_count(nullptr, &count) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(nnspec_data_shape(nullptr, &count, &count, &count) == NNSPEC_STATUS_BAD_ARGUMENT);
  // Freeing NULL is allowed.
  nnspec_spec_free(nullptr);
  nnspec_run_free(nullptr);
  nnspec_model_free(nullptr);
  nnspec_store_free(nullptr);
  nnspec_trials_free(nullptr);
  nnspec_data_free(nullptr);
}

TEST_CASE("a successful call clears the last error", "[api]") {
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_file(nullptr, &spec) == NNSPEC_STATUS_BAD_ARGUMENT);
  REQUIRE(std::string(nnspec_last_error()) != "");
  REQUIRE(nnspec_spec_open_string("experiment x\n", "x.nnspec", &spec) == NNSPEC_STATUS_OK);
  CHECK(std::string(nnspec_last_error()).empty());
  nnspec_spec_free(spec);
}

TEST_CASE("missing files are bad input, not crashes", "[api]") {
  nnspec_spec* spec = nullptr;
  CHECK(nnspec_spec_open_file("/nonexistent/x.nnspec", &spec) == NNSPEC_STATUS_BAD_INPUT);
  CHECK(spec == nullptr);
  CHECK(std::string(nnspec_last_error()).find("cannot open") != std::string::npos);
  nnspec_store* store = nullptr;
  CHECK(nnspec_store_open("/nonexistent/x.sqlite", &store) == NNSPEC_STATUS_BAD_INPUT);
  CHECK(std::string(nnspec_last_error()).find("no such file") != std::string::npos);
}

TEST_CASE("reading a spec before it is checked is bad input", "[api]") {
  nnspec_spec* spec = nullptr;
  REQUIRE(nnspec_spec_open_string("experiment x\n", "x.nnspec", &spec) == NNSPEC_STATUS_OK);
  int64_t count = 0;
  CHECK(nnspec_spec_diagnostic_count(spec, &count) == NNSPEC_STATUS_BAD_INPUT);
  nnspec_data* data = nullptr;
  CHECK(nnspec_spec_load_data(spec, nullptr, "test", &data) == NNSPEC_STATUS_BAD_INPUT);
  nnspec_run* run = nullptr;
  CHECK(nnspec_run_create(spec, nullptr, &run) == NNSPEC_STATUS_BAD_ARGUMENT);
  CHECK(std::string(nnspec_last_error()).find("needs a store path") != std::string::npos);
  nnspec_spec_free(spec);
}

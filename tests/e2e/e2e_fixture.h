// What the end-to-end tests share: a scratch folder, a run whose printed text is kept,
// and a store's trials and epochs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/driver/run.h"
#include "runtime/store/store.h"
#include "tests/store/temp_dir.h"

namespace nnspec::e2e {

// A new empty folder under the system's temporary folder (tests/store/temp_dir.h's),
// removed with everything in it when the scope ends.
struct ScratchDir {
  nnspec::test::TempDir folder;
  std::filesystem::path path = std::filesystem::path(folder.path("")).parent_path();
  std::string file(const std::string& name) const { return folder.path(name); }
};

struct Ran {
  driver::Outcome outcome;
  std::string printed;  // what the run printed on its output
};

// Runs `request` as `nnspec run` does, keeping what it prints.
inline Ran runCaptured(const driver::RunRequest& request) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  REQUIRE(out != nullptr);
  Ran ran;
  ran.outcome = driver::runFile(request, out);
  std::fclose(out);
  ran.printed = std::string(buffer, size);
  std::free(buffer);
  return ran;
}

// The trials of the store's one study, in the order they were queued.
inline std::vector<rt::TrialRow> studyTrials(const std::string& store_path) {
  auto store = rt::Store::open(store_path);
  REQUIRE(store.ok());
  auto studies = store.value().listStudies();
  REQUIRE(studies.ok());
  REQUIRE(studies.value().size() == 1);
  auto rows = store.value().listTrials(studies.value()[0].id);
  REQUIRE(rows.ok());
  return rows.value();
}

// A trial's stored epochs, first to last.
inline std::vector<rt::EpochRow> trialEpochs(const std::string& store_path, int64_t trial_id) {
  auto store = rt::Store::open(store_path);
  REQUIRE(store.ok());
  auto epochs = store.value().listEpochs(rt::TrialHandle{trial_id});
  REQUIRE(epochs.ok());
  return epochs.value();
}

}  // namespace nnspec::e2e

#pragma once
// What the fuzzers run on each input, shared by the libFuzzer entry points (built with
// clang and sanitizers by tests/fuzz/run.sh) and the replay test of the inputs that once
// failed (tests/fuzz/replay_test.cpp, built by the normal build). Each returns "" when
// the outcome is clean and otherwise says what went wrong.

#include <string>
#include <string_view>

#include "compiler/driver/driver.h"

namespace nnspec::fuzz {

// `bytes` as the text of a spec, through everything `nnspec check` runs (parse, overrides,
// sema with data probes, plan). Data paths point at `fixtures_dir` (the spec's folder, with
// data/ and fashion-mnist/ beside it), so nothing outside it is read. Clean: exit 0 with a
// plan, or exit 2 with an error. `probe_cache` (optional) keeps data probes across inputs;
// `planned` (optional) is set to whether the check gave a plan.
std::string checkSpecText(std::string_view bytes, const std::string& fixtures_dir,
                          driver::ProbeCache* probe_cache = nullptr, bool* planned = nullptr);

// `bytes` as data files, read by the IDX and CSV readers (probe, then load). The first
// byte picks the reader and whether the files are gzipped by the harness (so the gzip path
// is reached with valid streams; raw bytes starting 1f 8b reach it with damaged ones); the
// format is in data_target.cpp. Files are written under `scratch_dir`. Clean: each reader
// returns a data set consistent with its probe, or an error with a message.
std::string readDataFiles(std::string_view bytes, const std::string& scratch_dir);

}  // namespace nnspec::fuzz

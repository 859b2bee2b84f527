// Whatever the bytes, `check` ends in success or in diagnostics: never a crash, an
// exception or an internal error. Mutations of the reference specs and the golden
// files, byte by byte and token by token, plus pathological inputs.

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>

#include "compiler/driver/driver.h"

namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::stringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

struct Corpus {
  std::vector<std::pair<std::string, std::string>> files;  // path, text
  std::vector<std::string> tokens;                         // every token seen
};

// Splits text into tokens: words, numbers, strings, and single punctuation marks;
// whitespace runs are kept as tokens too so the text can be rebuilt.
std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> out;
  size_t k = 0;
  while (k < text.size()) {
    const unsigned char c = text[k];
    size_t end = k + 1;
    if (std::isalnum(c) || c == '_' || c == '.') {
      while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_' ||
                                   text[end] == '.')) {
        ++end;
      }
    } else if (std::isspace(c)) {
      while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    } else if (c == '"') {
      while (end < text.size() && text[end] != '"' && text[end] != '\n') ++end;
      if (end < text.size() && text[end] == '"') ++end;
    }
    out.push_back(text.substr(k, end - k));
    k = end;
  }
  return out;
}

const Corpus& corpus() {
  static const Corpus corpus = [] {
    Corpus out;
    const std::string root = NNSPEC_SOURCE_DIR;
    for (const std::string dir : {"/specs", "/tests/golden/diagnostics"}) {
      for (const auto& entry : std::filesystem::directory_iterator(root + dir)) {
        if (entry.path().extension() != ".nnspec") continue;
        out.files.emplace_back(entry.path().string(), readFile(entry.path()));
      }
    }
    std::sort(out.files.begin(), out.files.end());
    for (const auto& [_, text] : out.files) {
      for (auto& token : tokenize(text)) {
        if (!std::isspace(static_cast<unsigned char>(token[0]))) out.tokens.push_back(token);
      }
    }
    return out;
  }();
  return corpus;
}

// Checks one text; the outcome must be success, or bad input with diagnostics.
void expectCleanOutcome(const std::string& path, const std::string& text, nnspec::driver::ProbeCache& cache) {
  nnspec::driver::CheckRequest request;
  request.path = path;
  request.data_paths = nnspec::driver::defaultDataPaths();
  const auto outcome = nnspec::driver::checkSource(request, text, &cache);
  INFO("input (" << text.size() << " bytes):\n" << text.substr(0, 2000) << "\noutput:\n" << outcome.err.substr(0, 2000));
  REQUIRE((outcome.exit_code == 0 || outcome.exit_code == 2));
  if (outcome.exit_code == 0) {
    REQUIRE_THAT(outcome.out, Catch::StartsWith("experiment "));
  } else {
    REQUIRE_THAT(outcome.err, Catch::Contains(": error: "));
  }
}

std::string mutateBytes(const std::string& text, std::mt19937_64& rng) {
  std::string out = text;
  std::uniform_int_distribution<int> kind(0, 4);
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int edit = 0; edit < edits; ++edit) {
    if (out.empty()) out = "x";
    const size_t at = rng() % out.size();
    switch (kind(rng)) {
      case 0: out[at] = static_cast<char>(rng() % 256); break;         // flip
      case 1: out.insert(at, 1, static_cast<char>(rng() % 256)); break;  // insert
      case 2: out.erase(at, 1 + rng() % 8); break;                      // delete
      case 3: out.insert(at, out.substr(rng() % out.size(), rng() % 16)); break;  // duplicate
      case 4: out.resize(at); break;                                    // truncate
    }
  }
  return out;
}

std::string mutateTokens(const std::string& text, std::mt19937_64& rng) {
  std::vector<std::string> tokens = tokenize(text);
  const auto& vocabulary = corpus().tokens;
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int edit = 0; edit < edits && !tokens.empty(); ++edit) {
    const size_t at = rng() % tokens.size();
    switch (rng() % 4) {
      case 0: tokens.erase(tokens.begin() + static_cast<long>(at)); break;
      case 1: tokens.insert(tokens.begin() + static_cast<long>(at), tokens[rng() % tokens.size()]); break;
      case 2: std::swap(tokens[at], tokens[rng() % tokens.size()]); break;
      case 3: tokens[at] = vocabulary[rng() % vocabulary.size()]; break;
    }
  }
  std::string out;
  for (const auto& token : tokens) out += token;
  return out;
}

}  // namespace

TEST_CASE("random byte mutations of every spec end in success or diagnostics", "[driver][fuzz]") {
  nnspec::driver::ProbeCache cache;
  std::mt19937_64 rng(20261121);
  const auto& files = corpus().files;
  for (int round = 0; round < 2000; ++round) {
    const auto& [path, text] = files[static_cast<size_t>(round) % files.size()];
    expectCleanOutcome(path, mutateBytes(text, rng), cache);
  }
}

TEST_CASE("random token mutations of every spec end in success or diagnostics", "[driver][fuzz]") {
  nnspec::driver::ProbeCache cache;
  std::mt19937_64 rng(7);
  const auto& files = corpus().files;
  for (int round = 0; round < 3000; ++round) {
    const auto& [path, text] = files[static_cast<size_t>(round) % files.size()];
    expectCleanOutcome(path, mutateTokens(text, rng), cache);
  }
}

TEST_CASE("pathological inputs end in diagnostics", "[driver][fuzz]") {
  nnspec::driver::ProbeCache cache;
  std::mt19937_64 rng(3);
  const std::string path = std::string(NNSPEC_SOURCE_DIR) + "/specs/pathological.nnspec";
  expectCleanOutcome(path, "", cache);
  expectCleanOutcome(path, std::string(1, '\0'), cache);
  std::string garbage(1 << 20, '\0');
  for (auto& byte : garbage) byte = static_cast<char>(rng() % 256);
  expectCleanOutcome(path, garbage, cache);
  // A 10 MB line of plausible tokens, and one of a single name.
  std::string long_line = "experiment e param p = ";
  while (long_line.size() < (10u << 20)) long_line += "1 + ";
  expectCleanOutcome(path, long_line + "1\n", cache);
  expectCleanOutcome(path, "experiment " + std::string(10u << 20, 'a') + "\n", cache);
  std::string tokens_line;
  const auto& vocabulary = corpus().tokens;
  while (tokens_line.size() < (10u << 20)) tokens_line += vocabulary[rng() % vocabulary.size()] + " ";
  expectCleanOutcome(path, tokens_line, cache);
  expectCleanOutcome(path, "experiment e param p = " + std::string(100000, '-') + "1", cache);
  expectCleanOutcome(path, "experiment e param p = 2" + std::string(50000, '^') + "2", cache);
}

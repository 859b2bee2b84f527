// The language reference (docs/language.md, `nnspec help`) against the catalog and the
// grammar: every word documented, every example parses, the generator-owned lists of
// statements and clauses match grammar/NNSpec.g4.

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>

#include "compiler/frontend/parse.h"
#include "compiler/sema/catalog.h"
#include "compiler/sema/language_reference.h"

using namespace nnspec;
using namespace nnspec::sema;

namespace {

std::string readSource(const std::string& path) {
  std::ifstream in(std::string(NNSPEC_SOURCE_DIR) + "/" + path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first quoted word of every alternative labelled `# ...<suffix>`, in order.
std::vector<std::string> grammarKeywords(const std::string& grammar, const std::string& suffix) {
  std::vector<std::string> out;
  const std::regex alternative("[:|]\\s*'([a-z]+)'[^\\n]*#\\s*\\w+" + suffix + "\\b");
  for (auto it = std::sregex_iterator(grammar.begin(), grammar.end(), alternative); it != std::sregex_iterator(); ++it) {
    const std::string keyword = (*it)[1];
    if (std::find(out.begin(), out.end(), keyword) == out.end()) out.push_back(keyword);
  }
  return out;
}

std::vector<std::string> keywordsOf(const std::vector<StatementDoc>& docs) {
  std::vector<std::string> out;
  for (const auto& doc : docs) out.push_back(doc.keyword);
  return out;
}

std::vector<const std::vector<Signature>*> allTables(const Catalog& catalog) {
  return {&catalog.layers,        &catalog.activations,     &catalog.losses,        &catalog.optimizers,
          &catalog.schedules,     &catalog.inits,           &catalog.sources,       &catalog.transforms,
          &catalog.split_methods, &catalog.pruners,         &catalog.stop_conditions, &catalog.ensembles,
          &catalog.report_items,  &catalog.distributions,   &catalog.sweep_options, &catalog.sweep_clauses,
          &catalog.metrics,       &catalog.train_settings};
}

// A spec in which `example` stands where its kind of word is written.
std::string specAround(const Signature& signature) {
  const std::string& what = signature.what;
  if (what == "layer" || what == "activation") return "model m { " + signature.example + " }";
  if (what == "loss" || what == "optimizer" || what == "schedule" || what == "init" || what == "train setting" ||
      what == "stop condition") {
    return "train { " + signature.example + " }";
  }
  if (what == "pruner" || what == "ensemble") return "sweep grid(lr) " + signature.example;
  return signature.example;
}

bool parses(const std::string& text) {
  SourceFile file("example.nnspec", text);
  DiagnosticEngine diagnostics(file);
  const bool ok = frontend::parseSpec(file, diagnostics).has_value();
  if (!ok) UNSCOPED_INFO(text << "\n" << diagnostics.renderText());
  return ok;
}

}  // namespace

TEST_CASE("the reference lists the grammar's statements and sweep clauses", "[sema]") {
  const std::string grammar = readSource("grammar/NNSpec.g4");
  CHECK(grammarKeywords(grammar, "Stmt") == keywordsOf(statementDocs()));
  auto layer_keywords = keywordsOf(layerStatementDocs());
  layer_keywords.pop_back();  // the layer call, which has no keyword
  CHECK(grammarKeywords(grammar, "Layer") == layer_keywords);
  CHECK(grammarKeywords(grammar, "Clause") == Catalog::names(makeCatalog().sweep_clauses));
}

TEST_CASE("the catalog's described words are the ones the checker accepts", "[sema]") {
  const Catalog catalog = makeCatalog();
  std::vector<std::string> metrics = kMetricNames;
  metrics.insert(metrics.end(), kHeldOutMetricNames.begin(), kHeldOutMetricNames.end());
  metrics.push_back("top5_accuracy");
  CHECK(Catalog::names(catalog.metrics) == metrics);
  CHECK(Catalog::names(catalog.train_settings) == kTrainKeys);
  CHECK(Catalog::names(catalog.sweep_options) == kSweepMethods);
}

TEST_CASE("every catalog entry has a description and an example that uses it and parses", "[sema]") {
  const Catalog catalog = makeCatalog();
  for (const auto* table : allTables(catalog)) {
    for (const Signature& signature : *table) {
      INFO(signature.what << " '" << signature.name << "'");
      CHECK(!signature.description.empty());
      CHECK(signature.description.back() == '.');
      CHECK(signature.example.find(signature.name) != std::string::npos);
      CHECK(parses(specAround(signature)));
    }
  }
  for (const auto* docs : {&statementDocs(), &layerStatementDocs()}) {
    for (const StatementDoc& doc : *docs) {
      INFO("statement '" << doc.keyword << "'");
      CHECK(!doc.description.empty());
      CHECK(parses(docs == &statementDocs() ? doc.example : "model m { " + doc.example + " }"));
    }
  }
}

TEST_CASE("help for a category lists every item with its arguments", "[sema]") {
  const Catalog catalog = makeCatalog();
  const auto text = helpText(catalog, "layers");
  REQUIRE(text.has_value());
  for (const Signature& layer : catalog.layers) {
    INFO(layer.name);
    const std::string form = layer.args.empty() ? layer.name : layer.name + "(" + layer.args[0].name;
    CHECK(text->find("  " + form) != std::string::npos);
  }
  CHECK(text->find("conv2d(filters, kernel, stride: 1, padding: valid, activation: linear") != std::string::npos);
}

TEST_CASE("help for a word prints its arguments, defaults and example", "[sema]") {
  const Catalog catalog = makeCatalog();
  const auto csv = helpText(catalog, "csv");
  REQUIRE(csv.has_value());
  CHECK(csv->find("csv (data source)") == 0);
  CHECK(csv->find("target    a column name or a list of names; by name only; required") !=
        std::string::npos);
  CHECK(csv->find(Catalog::find(catalog.sources, "csv")->example) != std::string::npos);
  // A word in two tables prints both entries.
  const auto relu = helpText(catalog, "relu");
  REQUIRE(relu.has_value());
  CHECK(relu->find("relu (layer)") != std::string::npos);
  CHECK(relu->find("relu (activation)") != std::string::npos);
  const auto adam = helpText(catalog, "adam");
  REQUIRE(adam.has_value());
  CHECK(adam->find("lr            a positive number; default 0.001") != std::string::npos);
}

TEST_CASE("every help topic has text and unknown ones have none", "[sema]") {
  const Catalog catalog = makeCatalog();
  for (const std::string& topic : helpTopics(catalog)) {
    INFO(topic);
    CHECK(helpText(catalog, topic).has_value());
  }
  CHECK_FALSE(helpText(catalog, "nosuch").has_value());
  CHECK(helpTopics(catalog).size() > helpCategories().size());
}

TEST_CASE("the Markdown reference has a section per category and an entry per word", "[sema]") {
  const Catalog catalog = makeCatalog();
  const std::string markdown = languageReferenceMarkdown(catalog);
  for (const std::string& topic : helpCategories()) {
    CHECK(markdown.find("<a id=\"" + topic + "\"></a>") != std::string::npos);
  }
  for (const Signature& source : catalog.sources) {
    CHECK(markdown.find("<a id=\"sources-" + source.name + "\"></a>") != std::string::npos);
  }
  CHECK(markdown.find("| `target` | a column name or a list of names; by name only | required |") !=
        std::string::npos);
  CHECK(markdown.back() == '\n');
}

TEST_CASE("the README's table of data sources has a row per source", "[sema]") {
  const std::string readme = readSource("README.md");
  for (const Signature& source : makeCatalog().sources) {
    INFO(source.name);
    CHECK(readme.find("\n| `" + source.name + "(") != std::string::npos);
  }
}

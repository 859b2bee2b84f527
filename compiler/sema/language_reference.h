#pragma once
// The language reference, printed from the catalog: docs/language.md
// (`nnspec help --markdown`) and `nnspec help TOPIC`. The statements and the syntax
// around the catalog's words (grammar/NNSpec.g4) are described here, in one table;
// every word a spec can call comes from the catalog with its arguments, defaults,
// description and example, so the reference says what the checker accepts.

#include <optional>
#include <string>
#include <vector>

#include "compiler/sema/catalog.h"

namespace nnspec::sema {

// A statement of the grammar's `statement` rule (and the layer statements of a model
// block), as the reference shows it.
struct StatementDoc {
  std::string keyword;  // the word that starts it
  std::string usage;    // `data NAME = SOURCE | TRANSFORM ...`
  std::string description;
  std::string example;
};

// Top-level statements, in the grammar's order.
const std::vector<StatementDoc>& statementDocs();
// Statements inside `model NAME { ... }`: input, for, repeat and a layer call.
const std::vector<StatementDoc>& layerStatementDocs();

// The whole reference as Markdown (docs/language.md).
std::string languageReferenceMarkdown(const Catalog& catalog);

// Help topics: the categories (sources, layers, ...), in the reference's order.
std::vector<std::string> helpCategories();
// Every topic `nnspec help` knows: the categories, then every statement and item name.
std::vector<std::string> helpTopics(const Catalog& catalog);
// What `nnspec help TOPIC` prints: a category lists its items with their arguments; a
// name prints every entry of that name (relu is a layer and an activation). nullopt
// when TOPIC is neither.
std::optional<std::string> helpText(const Catalog& catalog, const std::string& topic);
// "help topics: statements, sources, ..." with how to ask for one item.
std::string helpTopicList();

}  // namespace nnspec::sema

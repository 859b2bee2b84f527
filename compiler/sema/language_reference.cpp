#include "compiler/sema/language_reference.h"

#include <algorithm>

#include <fmt/format.h>

#include "compiler/sema/value.h"
#include "compiler/support/diagnostics.h"

namespace nnspec::sema {
namespace {

// One group of the reference: a help topic, a Markdown section.
struct Category {
  std::string topic;  // `nnspec help TOPIC`
  std::string title;  // the section heading
  std::string intro;  // how the group is written in a spec
  std::vector<const std::vector<Signature>*> tables;
};

std::vector<Category> categories(const Catalog& catalog) {
  return {
      {"sources", "Data sources",
       "Written after `data NAME =`. A data set has parts (`train` and `test`, or `all`) that splits select "
       "from as NAME.PART.",
       {&catalog.sources}},
      {"transforms", "Transforms",
       "Written after a data source, each after `|`; applied in order to every part.",
       {&catalog.transforms}},
      {"splits", "Split methods",
       "Chained after a data set's part in a `split` statement: `fmnist.train.shuffle().take(10000)`. "
       "`cv FOLDS` (a sweep clause) splits train into folds instead of a fixed val.",
       {&catalog.split_methods}},
      {"params", "Param distributions",
       "Written after `param NAME in` for random and tpe sweeps (lists, ranges, linspace, logspace and "
       "categorical are under the param statement).",
       {&catalog.distributions}},
      {"models", "Model kinds",
       "Written after `model NAME =`: a model that is not a stack of layers. A train block names it like any "
       "model; its arguments may name params, so a sweep varies them (`param C in [1, 10, 100]`, then "
       "`svm(kernel: rbf, C: C)`).",
       {&catalog.model_kinds}},
      {"layers", "Layers", "One per line (or side by side) inside `model NAME { ... }`, applied in order.",
       {&catalog.layers}},
      {"activations", "Activations",
       "The `activation` argument of dense and conv2d: a name, or a call for those with arguments.",
       {&catalog.activations}},
      {"inits", "Weight initializations", "The train block's `init` setting, or a layer's `init:` argument.",
       {&catalog.inits}},
      {"losses", "Losses", "The train block's `loss` setting.", {&catalog.losses}},
      {"optimizers", "Optimizers", "The train block's `optimizer` setting; `lr` may name a param.",
       {&catalog.optimizers}},
      {"schedules", "Learning-rate schedules", "The train block's `schedule` setting; applied once per epoch.",
       {&catalog.schedules}},
      {"settings", "Train settings",
       "Inside `train [NAME] { ... }`, one setting per key with its value; any value may name a param. "
       "A sweep's `with` overrides them.",
       {&catalog.train_settings}},
      {"stops", "Stop conditions", "After a train block's epochs: `epochs N stop when CONDITION`.",
       {&catalog.stop_conditions}},
      {"metrics", "Metrics",
       "Written PART.NAME, where PART is train, val or test (`val.accuracy`), in `select`, stop conditions and "
       "report items; a train block's `metrics` setting names them bare.",
       {&catalog.metrics}},
      {"sweeps", "Sweeps",
       "`sweep [NAME =] METHOD(PARAM, ..., OPTION: VALUE) CLAUSE ...`: the method names the params it varies; "
       "the clauses follow in any order, each at most once (`with` may repeat). A clause's default applies when "
       "it is left out.",
       {&catalog.sweep_options, &catalog.sweep_clauses}},
      {"pruners", "Pruners", "A sweep's `prune` clause.", {&catalog.pruners}},
      {"ensembles", "Ensembles", "A sweep's `ensemble` clause.", {&catalog.ensembles}},
      {"reports", "Report items",
       "After `report`, separated by commas; each becomes a section of the HTML report a run writes.",
       {&catalog.report_items}},
  };
}

std::string joinWords(const std::vector<std::string>& words, const std::string& separator) {
  std::string out;
  for (size_t k = 0; k < words.size(); ++k) out += (k ? separator : "") + words[k];
  return out;
}

// `conv2d(filters, kernel, stride: 1, ...)`: positional arguments bare, keyword-only
// ones with a colon, defaults after `=` or `:`, optional ones without a default in [].
std::string callForm(const Signature& signature) {
  if (!signature.usage.empty()) return signature.usage;
  if (signature.args.empty()) return signature.name;
  std::vector<std::string> parts;
  for (const ArgSpec& arg : signature.args) {
    std::string part = arg.positional ? arg.name : arg.name + ":";
    if (arg.default_value) part += (arg.positional ? " = " : " ") + formatValue(*arg.default_value);
    if (!arg.required && !arg.default_value) part = "[" + part + "]";
    parts.push_back(part);
  }
  return signature.name + "(" + joinWords(parts, ", ") + ")";
}

// The default column of the Markdown tables.
std::string defaultText(const ArgSpec& arg) {
  if (arg.required) return "required";
  if (!arg.default_value) return "none";
  return formatValue(*arg.default_value);
}

// The same for `nnspec help NAME`.
std::string defaultPhrase(const ArgSpec& arg) {
  if (arg.required) return "required";
  if (!arg.default_value) return "optional";
  return "default " + formatValue(*arg.default_value);
}

std::string typeText(const ArgSpec& arg) {
  std::string text = arg.type.kind == TypeKind::kAny ? "see the description" : arg.type.describe();
  if (!arg.positional) text += "; by name only";
  return text;
}

std::string markdownCell(std::string text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string anchorOf(const std::string& category, const std::string& name) { return category + "-" + name; }

void appendMarkdownEntry(std::string& out, const Category& category, const Signature& signature) {
  out += fmt::format("### {} <a id=\"{}\"></a>\n\n", signature.name, anchorOf(category.topic, signature.name));
  out += fmt::format("`{}` ({})\n\n{}\n\n", callForm(signature), signature.what, signature.description);
  if (!signature.args.empty()) {
    out += "| argument | type | default |\n|---|---|---|\n";
    for (const ArgSpec& arg : signature.args) {
      out += fmt::format("| `{}` | {} | {} |\n", arg.name, markdownCell(typeText(arg)),
                         markdownCell(defaultText(arg)));
    }
    out += "\n";
  }
  out += fmt::format("```\n{}\n```\n\n", signature.example);
}

void appendMarkdownStatement(std::string& out, const StatementDoc& statement) {
  out += fmt::format("### {} <a id=\"statement-{}\"></a>\n\n`{}`\n\n{}\n\n```\n{}\n```\n\n", statement.keyword,
                     statement.keyword, statement.usage, statement.description, statement.example);
}

std::string indent(const std::string& text, const std::string& prefix) {
  std::string out = prefix;
  for (size_t k = 0; k < text.size(); ++k) {
    out += text[k];
    if (text[k] == '\n' && k + 1 < text.size()) out += prefix;
  }
  return out;
}

constexpr size_t kTextWidth = 88;

// `text` as lines of at most kTextWidth columns (longer words stay whole), each after
// `prefix`, ending in a newline.
std::string wrap(const std::string& text, const std::string& prefix) {
  std::string out;
  std::string line = prefix;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (line.size() > prefix.size() && line.size() + 1 + word.size() > kTextWidth) {
      out += line + "\n";
      line = prefix;
    }
    line += (line.size() > prefix.size() ? " " : "") + word;
    start = end + 1;
  }
  return out + line + "\n";
}

std::string itemText(const Signature& signature) {
  std::string out =
      fmt::format("{} ({})\n  {}\n\n", signature.name, signature.what, callForm(signature)) + wrap(signature.description, "  ");
  if (!signature.args.empty()) {
    out += "\n";
    size_t width = 0;
    for (const ArgSpec& arg : signature.args) width = std::max(width, arg.name.size());
    for (const ArgSpec& arg : signature.args) {
      out += fmt::format("  {:<{}}  {}; {}\n", arg.name, width, typeText(arg), defaultPhrase(arg));
    }
  }
  out += "\n  example:\n" + indent(signature.example, "    ") + "\n";
  return out;
}

std::string statementText(const StatementDoc& statement) {
  return fmt::format("{} (statement)\n  {}\n\n{}\n  example:\n{}\n", statement.keyword, statement.usage,
                     wrap(statement.description, "  "), indent(statement.example, "    "));
}

std::string categoryText(const Category& category) {
  std::string out = wrap(category.title + ": " + category.intro, "") + "\n";
  for (const auto* table : category.tables) {
    for (const Signature& signature : *table) {
      out += fmt::format("  {}\n", callForm(signature)) + wrap(signature.description, "      ");
    }
  }
  out += fmt::format("\n`nnspec help NAME` prints one with its arguments, defaults and an example.\n");
  return out;
}

std::string statementsText() {
  std::string out = "Statements: a spec is a sequence of them, each starting with its keyword.\n\n";
  for (const auto* docs : {&statementDocs(), &layerStatementDocs()}) {
    if (docs == &layerStatementDocs()) out += "\n  inside `model NAME { ... }`:\n";
    for (const StatementDoc& statement : *docs) {
      out += fmt::format("  {}\n", statement.usage) + wrap(statement.description, "      ");
    }
  }
  out += "\n`nnspec help KEYWORD` prints one with an example.\n";
  return out;
}

constexpr const char* kNotation =
    "In a signature, `name` is an argument that may be given by position or as `name: value`; `name:` is "
    "given by name only; `= v` and `: v` show the default; `[name]` is optional with no default. Arguments "
    "given by name may come in any order after the positional ones, and any value may name a param.";

constexpr const char* kExpressions =
    "Values are numbers (`128`, `0.5`, `1e-3`), durations (`30m`, `2h`, `45s`), strings in double quotes, "
    "`true` and `false`, names, lists (`[28, 28, 1]`), integer ranges (`1..5`, `10..100 by 10`, both ends "
    "included), calls with positional and named arguments (`adam(lr: 1e-3)`) and member access "
    "(`fmnist.train`, `val.loss`). Arithmetic `+ - * / ^` works on numbers (`1/255`, `2^10`). Newlines are "
    "not significant; `#` starts a comment that runs to the end of the line.";

}  // namespace

const std::vector<StatementDoc>& statementDocs() {
  static const std::vector<StatementDoc> docs = {
      {"experiment", "experiment NAME",
       "Names the study; the store keeps its trials under this name.", "experiment fmnist_mlp_arch"},
      {"seed", "seed N",
       "The seed every random draw derives from (shuffles, initial weights, dropout masks, sweep points), with "
       "the trial; the same spec and seed give the same numbers. The points of a grid sweep visit the training "
       "samples in one order per fold and replicate (that of the first point), so they are compared on the same "
       "batches; each keeps its own initial weights and dropout masks.",
       "seed 2052409"},
      {"keep", "keep " + joinWords(kKeepPolicies, "|"),
       "Whose trained weights a run leaves in the store: every finished trial's, each sweep's best point's "
       "(the default), or none.",
       "keep all"},
      {"data", "data NAME = SOURCE [| TRANSFORM ...]",
       "Defines a data set from a source (see sources), transformed in order (see transforms).",
       "data fmnist = fashion_mnist() | scale(1/255) | reshape([28, 28, 1])"},
      {"split", "split [NAME:] train = SELECTION[, val = SELECTION][, test = SELECTION]",
       "Which samples train on, validate and test: each a data set's part followed by split methods; `val` may "
       "be `train.holdout(...)`. A train block names a split when the spec has several.",
       "split small: train = fmnist.train.shuffle().take(10000), val = train.holdout(0.2), test = fmnist.test"},
      {"param", "param NAME in SPACE | param NAME[LENGTH] in SPACE | param NAME = VALUE",
       "A value models and train blocks can name. A swept param's SPACE is a list (`[a, b]`), an integer range "
       "(`1..5 by 2`), `linspace(lo, hi, n)`, `logspace(lo_exp, hi_exp, n)` (base 10), `categorical(a, b, ...)` "
       "or a distribution (`int(...)`, `float(...)`, see params); `NAME[LENGTH]` draws one value per element, "
       "LENGTH being an integer param (one width per layer). `= VALUE` fixes it.",
       "param hidden in [[10], [25], [50, 25, 10]]\nparam lr in logspace(-4, -1, 4)\n"
       "param units[n_layers] in int(128, 256)"},
      {"model", "model NAME { LAYER ... } | model NAME = KIND(ARGUMENTS)",
       "A stack of layers (see layers and the model statements below); the input shape comes from the data "
       "unless `input` gives it. `= KIND(...)` defines a model of another kind (see models): an SVM.",
       "model mlp {\n  input [28, 28]\n  flatten\n  for h in hidden { dense(h, relu) }\n  dense(10)\n}\n"
       "model svc = svm(kernel: rbf, C: 10, gamma: 0.01)"},
      {"train", "train [NAME] { SETTING VALUE ... }",
       "How to train: a model, loss, optimizer and epochs at least (see settings; an svm takes a model, a split "
       "and metrics only). Without a sweep, `nnspec run` trains it once.",
       "train {\n  model     mlp\n  loss      cross_entropy\n  optimizer sgd(lr: lr, momentum: 0.9)\n"
       "  batch     50\n  epochs    20\n}"},
      {"sweep", "sweep [NAME =] METHOD(PARAM, ...) CLAUSE ...",
       "Trains a train block at every point of a space of params (see sweeps): grid, random or tpe, with "
       "cross-validation, replicates, pruning, selection, ensembles and refits.",
       "sweep arch = grid(hidden, lr) cv 5 replicates 3 select max val.accuracy"},
      {"report", "report ITEM, ...",
       "What the HTML report written after a run shows (see reports).",
       "report table, curves(y: [train.loss, val.loss], by: lr), confusion"},
  };
  return docs;
}

const std::vector<StatementDoc>& layerStatementDocs() {
  static const std::vector<StatementDoc> docs = {
      {"input", "input SHAPE",
       "The shape of one sample, without the batch dimension; checked against the data.", "input [28, 28, 1]"},
      {"for", "for NAME in LIST { LAYER ... }",
       "Repeats the layers once per element of a list (often a param), NAME bound to the element.",
       "for h in hidden { dense(h, relu) }"},
      {"repeat", "repeat N { LAYER ... }", "Repeats the layers N times (N may be a param).",
       "repeat depth { dense(width, relu) dropout(0.2) }"},
      {"LAYER", "NAME[(ARGUMENTS)]", "A layer (see layers); arguments may name params and loop variables.",
       "conv2d(32, 3, padding: same, activation: relu)"},
  };
  return docs;
}

std::string languageReferenceMarkdown(const Catalog& catalog) {
  const auto groups = categories(catalog);
  std::string out =
      "# The nnspec language\n\n"
      "<!-- Generated from compiler/sema/catalog.cpp and compiler/sema/language_reference.cpp by\n"
      "     `./build/nnspec help --markdown > docs/language.md`; do not edit by hand (a test compares). -->\n\n"
      "A `.nnspec` file describes one experiment: its data, how the data is split, the params to sweep, the "
      "models, how to train them, the sweeps to run and what to report. `nnspec check FILE` checks it and "
      "prints the plan; `nnspec help TOPIC` prints any part of this page.\n\n";
  out += "Contents: [Statements](#statements), [Expressions](#expressions)";
  for (const Category& category : groups) {
    out += fmt::format(", [{}](#{})", category.title, category.topic);
  }
  out += ".\n\n";
  out += fmt::format("{}\n\n", kNotation);
  out += "## Statements <a id=\"statements\"></a>\n\n"
         "A spec is a sequence of statements, each starting with its keyword (grammar/NNSpec.g4).\n\n";
  for (const StatementDoc& statement : statementDocs()) appendMarkdownStatement(out, statement);
  out += "### Inside a model block\n\n";
  for (const StatementDoc& statement : layerStatementDocs()) {
    out += fmt::format("- `{}`: {} Example: `{}`\n", statement.usage, statement.description, statement.example);
  }
  out += fmt::format("\n## Expressions <a id=\"expressions\"></a>\n\n{}\n\n", kExpressions);
  for (const Category& category : groups) {
    out += fmt::format("## {} <a id=\"{}\"></a>\n\n{}\n\n", category.title, category.topic, category.intro);
    for (const auto* table : category.tables) {
      for (const Signature& signature : *table) appendMarkdownEntry(out, category, signature);
    }
  }
  // One trailing newline.
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

std::vector<std::string> helpCategories() {
  std::vector<std::string> out = {"statements"};
  for (const Category& category : categories(makeCatalog())) out.push_back(category.topic);
  return out;
}

std::vector<std::string> helpTopics(const Catalog& catalog) {
  std::vector<std::string> out = helpCategories();
  auto add = [&](const std::string& name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  for (const auto* docs : {&statementDocs(), &layerStatementDocs()}) {
    for (const StatementDoc& statement : *docs) add(statement.keyword);
  }
  for (const Category& category : categories(catalog)) {
    for (const auto* table : category.tables) {
      for (const Signature& signature : *table) add(signature.name);
    }
  }
  return out;
}

std::optional<std::string> helpText(const Catalog& catalog, const std::string& topic) {
  const auto groups = categories(catalog);
  std::string out;
  if (topic == "statements") out = statementsText();
  for (const Category& category : groups) {
    if (category.topic == topic) out = categoryText(category);
  }
  // Every entry of that name: a category's name may also be a word (`metrics` the setting).
  std::vector<std::string> entries;
  for (const auto* docs : {&statementDocs(), &layerStatementDocs()}) {
    for (const StatementDoc& statement : *docs) {
      if (statement.keyword == topic) entries.push_back(statementText(statement));
    }
  }
  for (const Category& category : groups) {
    for (const auto* table : category.tables) {
      for (const Signature& signature : *table) {
        if (signature.name == topic) entries.push_back(itemText(signature));
      }
    }
  }
  if (out.empty() && entries.empty()) return std::nullopt;
  for (const std::string& entry : entries) out += (out.empty() ? "" : "\n") + entry;
  return out;
}

std::string helpTopicList() {
  return wrap("help topics: " + joinWords(helpCategories(), ", "), "") +
         "  nnspec help TOPIC lists a group; nnspec help NAME (csv, dense, adam, cv, ...) prints\n"
         "  one word with its arguments, defaults and an example; nnspec help --markdown prints\n"
         "  the whole reference (docs/language.md)\n";
}

}  // namespace nnspec::sema

#include "compiler/frontend/parse.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "NNSpecLexer.h"
#include "NNSpecParser.h"
#include "antlr4-runtime.h"

namespace nnspec::frontend {
namespace {

using grammar::NNSpecLexer;
using grammar::NNSpecParser;

// Limits that keep pathological input (deep nesting, megabyte statements) from
// exhausting the stack of the recursive-descent parser and the tree walkers.
constexpr int kMaxNesting = 64;
constexpr size_t kMaxStatementTokens = 20000;

const std::set<std::string> kStatementWords = {"experiment", "seed",  "data",  "split",  "param",
                                               "model",      "train", "sweep", "report", "keep"};

struct TooManyErrors {};

SourceRange tokenRange(const antlr4::Token* token) {
  if (token == nullptr) return {};
  if (token->getType() == antlr4::Token::EOF) {
    const auto at = static_cast<int64_t>(token->getStartIndex());
    return {at, at};
  }
  return {static_cast<int64_t>(token->getStartIndex()), static_cast<int64_t>(token->getStopIndex()) + 1};
}

SourceRange contextRange(antlr4::ParserRuleContext* context) {
  if (context == nullptr || context->getStart() == nullptr) return {};
  const SourceRange begin = tokenRange(context->getStart());
  const antlr4::Token* stop = context->getStop();
  if (stop == nullptr || stop->getStopIndex() + 1 < context->getStart()->getStartIndex()) return begin;
  return {begin.begin, static_cast<int64_t>(stop->getStopIndex()) + 1};
}

// What a token is called in a message: 'model', a name, a number ...
std::string describeTokenType(const antlr4::dfa::Vocabulary& vocabulary, size_t type) {
  switch (type) {
    case antlr4::Token::EOF: return "end of file";
    case NNSpecParser::ID: return "a name";
    case NNSpecParser::NUMBER: return "a number";
    case NNSpecParser::DURATION: return "a duration";
    case NNSpecParser::STRING: return "a string";
    default: return vocabulary.getLiteralName(type);
  }
}

std::string describeFound(const antlr4::Token* token) {
  if (token == nullptr || token->getType() == antlr4::Token::EOF) return "end of file";
  std::string text = token->getText();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return fmt::format("'{}'", text);
}

// A readable summary of the tokens the parser could accept.
std::string describeExpected(const antlr4::dfa::Vocabulary& vocabulary, const antlr4::misc::IntervalSet& expected) {
  std::vector<size_t> types;
  for (const auto& interval : expected.getIntervals()) {
    for (ssize_t type = interval.a; type <= interval.b; ++type) types.push_back(static_cast<size_t>(type));
  }
  const auto has = [&](size_t type) { return std::find(types.begin(), types.end(), type) != types.end(); };
  const bool expects_name = has(NNSpecParser::ID);
  const bool expects_expression = expects_name && has(NNSpecParser::NUMBER) && has(NNSpecParser::STRING);
  int statement_words = 0;
  std::vector<std::string> parts;
  for (size_t type : types) {
    const std::string literal = vocabulary.getLiteralName(type);
    const std::string word = literal.size() > 2 ? literal.substr(1, literal.size() - 2) : "";
    if (kStatementWords.count(word) != 0) ++statement_words;
  }
  if (statement_words >= 5 && !expects_name) parts.push_back("a statement");
  if (expects_expression) parts.push_back("an expression");
  for (size_t type : types) {
    const std::string literal = vocabulary.getLiteralName(type);
    const bool is_word = literal.size() > 2 && std::isalpha(static_cast<unsigned char>(literal[1]));
    if (is_word && (expects_name || statement_words >= 5)) continue;  // covered by "a name"/"a statement"
    if (expects_expression && (type == NNSpecParser::NUMBER || type == NNSpecParser::STRING ||
                               type == NNSpecParser::DURATION || type == NNSpecParser::ID ||
                               literal == "'['" || literal == "'('" || literal == "'-'" || literal == "'+'")) {
      continue;
    }
    parts.push_back(describeTokenType(vocabulary, type));
  }
  if (parts.empty()) return "";
  if (parts.size() > 6) parts.resize(6), parts.push_back("...");
  std::string out;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += k + 1 == parts.size() ? " or " : ", ";
    out += parts[k];
  }
  return out;
}

class SyntaxErrorListener : public antlr4::BaseErrorListener {
 public:
  explicit SyntaxErrorListener(DiagnosticEngine& diagnostics) : diagnostics_(diagnostics) {}

  void syntaxError(antlr4::Recognizer* recognizer, antlr4::Token* offending, size_t, size_t,
                   const std::string& antlr_message, std::exception_ptr error) override {
    auto* parser = dynamic_cast<antlr4::Parser*>(recognizer);
    if (parser == nullptr || offending == nullptr) return;
    if (diagnostics_.capReached()) throw TooManyErrors{};
    const SourceRange range = tokenRange(offending);
    // Invalid UTF-8 was already reported with its byte value.
    if (offending->getType() == NNSpecParser::UNKNOWN_CHAR && offending->getText() == "\xEF\xBF\xBD") return;
    if (isCascade(parser, offending)) return;
    last_error_token_ = static_cast<ssize_t>(offending->getTokenIndex());
    if (offending->getType() == NNSpecParser::UNTERMINATED_STRING) after_unterminated_string_ = true;
    std::string expected;
    try {
      // The exception, when there is one, knows the state where matching failed.
      antlr4::misc::IntervalSet expected_tokens = parser->getExpectedTokens();
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const antlr4::RecognitionException& recognition) {
          if (!recognition.getExpectedTokens().isEmpty()) expected_tokens = recognition.getExpectedTokens();
        }
      }
      // A token the parser says it expects but still rejects: the problem is the
      // combination (such as `2,, 3`), so just name the token.
      if (!expected_tokens.contains(offending->getType())) {
        expected = describeExpected(parser->getVocabulary(), expected_tokens);
      }
    } catch (const antlr4::RuntimeException&) {
      expected.clear();
    }
    const std::string found = describeFound(offending);
    std::string message;
    std::string hint;
    if (offending->getType() == NNSpecParser::UNKNOWN_CHAR) {
      message = fmt::format("unexpected character {}", found);
    } else if (offending->getType() == NNSpecParser::UNTERMINATED_STRING) {
      message = "unterminated string";
      hint = "close it with '\"' on the same line";
    } else if (antlr_message.rfind("missing ", 0) == 0 && !expected.empty()) {
      message = fmt::format("expected {} before {}", expected, found);
    } else if (!expected.empty()) {
      message = fmt::format("expected {}, found {}", expected, found);
    } else {
      message = fmt::format("unexpected {}", found);
    }
    if (expected.find("a statement") != std::string::npos && offending->getType() == NNSpecParser::ID) {
      const std::vector<std::string> words(kStatementWords.begin(), kStatementWords.end());
      hint = didYouMean(offending->getText(), words);
      if (hint.empty()) hint = "a statement starts with one of " + quotedList(words);
      message = fmt::format("unknown statement {}", found);
      if (statementOf(parser, offending) == "sweep") {
        // A word after a sweep's clauses (`cv 5 shuffle`): a clause, not a statement.
        const std::vector<std::string> clauses = {"cv",     "stratified", "replicates", "trials", "timeout", "prune",
                                                  "select", "ensemble",   "refit",      "fuse",   "using",   "with"};
        message = fmt::format("unknown sweep clause {}", found);
        hint = offending->getText() == "shuffle"
                   ? "folds are taken in the data's order, as scikit-learn's KFold does; to shuffle them, shuffle "
                     "the data in the split (`train = d.train.shuffle()`); `cv 5 stratified` keeps each fold's "
                     "class balance"
                   : didYouMean(offending->getText(), clauses);
        if (hint.empty()) hint = "a sweep's clauses are " + quotedList(clauses);
      }
    }
    diagnostics_.error(range, message, hint);
    if (diagnostics_.capReached()) throw TooManyErrors{};
  }

 private:
  // An error in the same statement as the previous one, or anywhere after an
  // unterminated string, is most likely a consequence of the first: report only that.
  bool isCascade(antlr4::Parser* parser, antlr4::Token* offending) const {
    if (after_unterminated_string_) return true;
    if (last_error_token_ < 0) return false;
    const auto index = static_cast<ssize_t>(offending->getTokenIndex());
    if (index <= last_error_token_) return true;
    antlr4::TokenStream* tokens = parser->getTokenStream();
    for (ssize_t k = last_error_token_ + 1; k <= index; ++k) {
      if (kStatementWords.count(tokens->get(static_cast<size_t>(k))->getText()) != 0) return false;
    }
    return true;
  }

  // The statement word that begins the statement `offending` is in ("" when none).
  static std::string statementOf(antlr4::Parser* parser, antlr4::Token* offending) {
    antlr4::TokenStream* tokens = parser->getTokenStream();
    for (auto k = static_cast<ssize_t>(offending->getTokenIndex()) - 1; k >= 0; --k) {
      const std::string text = tokens->get(static_cast<size_t>(k))->getText();
      if (kStatementWords.count(text) != 0) return text;
    }
    return "";
  }

  DiagnosticEngine& diagnostics_;
  ssize_t last_error_token_ = -1;
  bool after_unterminated_string_ = false;
};

// Rejects input the recursive parser should not descend into: brackets nested deeper
// than kMaxNesting, or one statement of more than kMaxStatementTokens tokens.
bool checkLimits(antlr4::CommonTokenStream& tokens, DiagnosticEngine& diagnostics) {
  tokens.fill();
  int depth = 0;
  size_t statement_tokens = 0;
  for (antlr4::Token* token : tokens.getTokens()) {
    const std::string text = token->getText();
    if (kStatementWords.count(text) != 0 && depth == 0) statement_tokens = 0;
    if (++statement_tokens > kMaxStatementTokens) {
      diagnostics.error(tokenRange(token),
                        fmt::format("statement too long: more than {} tokens", kMaxStatementTokens),
                        "split it into several statements");
      return false;
    }
    if (text == "(" || text == "[" || text == "{" || text == "^") {
      if (++depth > kMaxNesting) {
        diagnostics.error(tokenRange(token),
                          fmt::format("expression nested more than {} levels deep", kMaxNesting));
        return false;
      }
    } else if (text == ")" || text == "]" || text == "}") {
      depth = std::max(0, depth - 1);
    } else if (kStatementWords.count(text) != 0) {
      // '^' has no closing token: reset at every statement.
      depth = std::min(depth, 1);
    }
  }
  return true;
}

// ---- parse tree -> AST -------------------------------------------------------------

class AstBuilder {
 public:
  explicit AstBuilder(DiagnosticEngine& diagnostics) : diagnostics_(diagnostics) {}

  ast::Spec build(NNSpecParser::SpecContext* spec) {
    ast::Spec out;
    for (auto* statement : spec->statement()) addStatement(statement, out);
    return out;
  }

 private:
  ast::Ident ident(NNSpecParser::IdentContext* context) {
    return {context->getText(), contextRange(context)};
  }

  std::optional<ast::Ident> optionalIdent(NNSpecParser::IdentContext* context) {
    if (context == nullptr) return std::nullopt;
    return ident(context);
  }

  void addStatement(NNSpecParser::StatementContext* context, ast::Spec& out) {
    const SourceRange range = contextRange(context);
    if (auto* c = dynamic_cast<NNSpecParser::ExperimentStmtContext*>(context)) {
      out.experiments.push_back({ident(c->name), range});
    } else if (auto* c = dynamic_cast<NNSpecParser::SeedStmtContext*>(context)) {
      out.seeds.push_back({expr(c->value), range});
    } else if (auto* c = dynamic_cast<NNSpecParser::KeepStmtContext*>(context)) {
      out.keeps.push_back({expr(c->policy), range});
    } else if (auto* c = dynamic_cast<NNSpecParser::DataStmtContext*>(context)) {
      ast::DataStmt data{ident(c->name), expr(c->source), {}, range};
      for (auto* transform : c->transforms) data.transforms.push_back(expr(transform));
      out.data.push_back(std::move(data));
    } else if (auto* c = dynamic_cast<NNSpecParser::SplitStmtContext*>(context)) {
      ast::SplitStmt split{optionalIdent(c->name), {}, range};
      for (auto* role : c->roles) {
        split.roles.push_back({ident(role->role), expr(role->value), contextRange(role)});
      }
      out.splits.push_back(std::move(split));
    } else if (auto* c = dynamic_cast<NNSpecParser::ParamSweptStmtContext*>(context)) {
      out.params.push_back({ident(c->name), optionalIdent(c->length), false, false, expr(c->space), range});
    } else if (auto* c = dynamic_cast<NNSpecParser::ParamFixedStmtContext*>(context)) {
      out.params.push_back({ident(c->name), std::nullopt, true, false, expr(c->value), range});
    } else if (auto* c = dynamic_cast<NNSpecParser::ModelStmtContext*>(context)) {
      ast::ModelStmt model{ident(c->name), {}, range};
      for (auto* layer : c->layers) model.layers.push_back(layerStmt(layer));
      out.models.push_back(std::move(model));
    } else if (auto* c = dynamic_cast<NNSpecParser::ModelKindStmtContext*>(context)) {
      out.models.push_back(ast::ModelStmt{ident(c->name), {}, range, expr(c->kind)});
    } else if (auto* c = dynamic_cast<NNSpecParser::TrainStmtContext*>(context)) {
      ast::TrainStmt train{optionalIdent(c->name), {}, range};
      for (auto* setting : c->settings) train.settings.push_back(settingOf(setting));
      out.trains.push_back(std::move(train));
    } else if (auto* c = dynamic_cast<NNSpecParser::SweepStmtContext*>(context)) {
      ast::SweepStmt sweep{optionalIdent(c->name), expr(c->method), {}, range};
      for (auto* clause : c->clauses) sweep.clauses.push_back(sweepClause(clause));
      out.sweeps.push_back(std::move(sweep));
    } else if (auto* c = dynamic_cast<NNSpecParser::ReportStmtContext*>(context)) {
      ast::ReportStmt report{{}, range};
      for (auto* item : c->items) report.items.push_back(expr(item));
      out.reports.push_back(std::move(report));
    }
  }

  ast::LayerStmt layerStmt(NNSpecParser::LayerStmtContext* context) {
    ast::LayerStmt layer;
    layer.range = contextRange(context);
    if (auto* c = dynamic_cast<NNSpecParser::InputLayerContext*>(context)) {
      layer.kind = ast::LayerKind::kInput;
      layer.name = {"input", tokenRange(c->getStart())};
      layer.expr = expr(c->shape);
    } else if (auto* c = dynamic_cast<NNSpecParser::ForLayerContext*>(context)) {
      layer.kind = ast::LayerKind::kFor;
      layer.name = ident(c->var);
      layer.expr = expr(c->iterable);
      for (auto* inner : c->body) layer.body.push_back(layerStmt(inner));
    } else if (auto* c = dynamic_cast<NNSpecParser::RepeatLayerContext*>(context)) {
      layer.kind = ast::LayerKind::kRepeat;
      layer.name = {"repeat", tokenRange(c->getStart())};
      layer.expr = expr(c->count);
      for (auto* inner : c->body) layer.body.push_back(layerStmt(inner));
    } else if (auto* c = dynamic_cast<NNSpecParser::CallLayerContext*>(context)) {
      layer.kind = ast::LayerKind::kCall;
      layer.name = ident(c->name);
      if (c->arguments() != nullptr) {
        layer.has_args = true;
        layer.args = arguments(c->arguments());
        layer.args_range = contextRange(c->arguments());
      }
    }
    return layer;
  }

  ast::Setting settingOf(NNSpecParser::SettingContext* context) {
    ast::Setting setting{ident(context->key), {}, nullptr, contextRange(context)};
    for (auto* value : context->values) setting.values.push_back(expr(value));
    if (context->stopWhen() != nullptr) setting.stop_when = expr(context->stopWhen()->condition);
    return setting;
  }

  ast::SweepClause sweepClause(NNSpecParser::SweepClauseContext* context) {
    ast::SweepClause clause;
    clause.range = contextRange(context);
    clause.keyword = tokenRange(context->getStart());
    if (auto* c = dynamic_cast<NNSpecParser::CvClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kCv;
      clause.value = expr(c->folds);
      clause.stratified = c->stratified != nullptr;
    } else if (auto* c = dynamic_cast<NNSpecParser::ReplicatesClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kReplicates;
      clause.value = expr(c->count);
    } else if (auto* c = dynamic_cast<NNSpecParser::TrialsClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kTrials;
      clause.value = expr(c->count);
    } else if (auto* c = dynamic_cast<NNSpecParser::TimeoutClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kTimeout;
      clause.value = expr(c->limit);
    } else if (auto* c = dynamic_cast<NNSpecParser::PruneClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kPrune;
      clause.value = expr(c->pruner);
    } else if (auto* c = dynamic_cast<NNSpecParser::SelectClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kSelect;
      clause.word = ident(c->direction);
      clause.value = expr(c->metric);
    } else if (auto* c = dynamic_cast<NNSpecParser::EnsembleClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kEnsemble;
      clause.value = expr(c->kind);
    } else if (dynamic_cast<NNSpecParser::RefitClauseContext*>(context) != nullptr) {
      clause.kind = ast::ClauseKind::kRefit;
    } else if (auto* c = dynamic_cast<NNSpecParser::FuseClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kFuse;
      clause.value = expr(c->size);
    } else if (auto* c = dynamic_cast<NNSpecParser::UsingClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kUsing;
      clause.word = ident(c->train);
    } else if (auto* c = dynamic_cast<NNSpecParser::WithClauseContext*>(context)) {
      clause.kind = ast::ClauseKind::kWith;
      for (auto* fix : c->fixes) {
        clause.fixes.push_back({ident(fix->name), expr(fix->value), contextRange(fix)});
      }
    }
    return clause;
  }

  std::vector<ast::Argument> arguments(NNSpecParser::ArgumentsContext* context) {
    std::vector<ast::Argument> out;
    for (auto* argument : context->args) {
      out.push_back({optionalIdent(argument->key), expr(argument->value), contextRange(argument)});
    }
    return out;
  }

  ast::ExprPtr make(ast::ExprKind kind, antlr4::ParserRuleContext* context) {
    auto out = std::make_unique<ast::Expr>();
    out->kind = kind;
    out->range = contextRange(context);
    return out;
  }

  ast::ExprPtr numberExpr(antlr4::ParserRuleContext* context, const std::string& text, ast::ExprKind kind) {
    auto out = make(kind, context);
    size_t digits_end = 0;
    while (digits_end < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits_end])) ||
                                        text[digits_end] == '.' ||
                                        ((text[digits_end] == 'e' || text[digits_end] == 'E') &&
                                         kind == ast::ExprKind::kNumber) ||
                                        ((text[digits_end] == '-' || text[digits_end] == '+') && digits_end > 0 &&
                                         (text[digits_end - 1] == 'e' || text[digits_end - 1] == 'E') &&
                                         kind == ast::ExprKind::kNumber))) {
      ++digits_end;
    }
    const std::string digits = text.substr(0, digits_end);
    out->is_integer = digits.find_first_of(".eE") == std::string::npos;
    out->text = text.substr(digits_end);
    try {
      out->number = std::stod(digits);
    } catch (const std::out_of_range&) {
      diagnostics_.error(out->range, fmt::format("number '{}' is out of range", digits));
    } catch (const std::invalid_argument&) {
      diagnostics_.error(out->range, fmt::format("'{}' is not a number", digits));
    }
    if (out->is_integer && out->number > 9.0e15) out->is_integer = false;
    return out;
  }

  std::string unescape(const std::string& quoted) {
    std::string out;
    for (size_t k = 1; k + 1 < quoted.size(); ++k) {
      if (quoted[k] == '\\' && k + 2 < quoted.size()) {
        ++k;
        switch (quoted[k]) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          default: out += quoted[k];
        }
      } else {
        out += quoted[k];
      }
    }
    return out;
  }

  ast::ExprPtr expr(NNSpecParser::ExprContext* context) {
    if (auto* c = dynamic_cast<NNSpecParser::NumberExprContext*>(context)) {
      return numberExpr(c, c->value->getText(), ast::ExprKind::kNumber);
    }
    if (auto* c = dynamic_cast<NNSpecParser::DurationExprContext*>(context)) {
      return numberExpr(c, c->value->getText(), ast::ExprKind::kDuration);
    }
    if (auto* c = dynamic_cast<NNSpecParser::StringExprContext*>(context)) {
      auto out = make(ast::ExprKind::kString, c);
      out->text = unescape(c->value->getText());
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::BoolExprContext*>(context)) {
      auto out = make(ast::ExprKind::kBool, c);
      out->boolean = c->value->getText() == "true";
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::NameExprContext*>(context)) {
      auto out = make(ast::ExprKind::kName, c);
      out->text = c->name->getText();
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::ParenExprContext*>(context)) {
      auto out = expr(c->inner);
      out->range = contextRange(c);
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::ListExprContext*>(context)) {
      auto out = make(ast::ExprKind::kList, c);
      for (auto* item : c->items) out->operands.push_back(expr(item));
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::MemberExprContext*>(context)) {
      auto out = make(ast::ExprKind::kMember, c);
      out->operands.push_back(expr(c->target));
      out->member = ident(c->member);
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::CallExprContext*>(context)) {
      auto out = make(ast::ExprKind::kCall, c);
      out->operands.push_back(expr(c->callee));
      out->args = arguments(c->arguments());
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::UnaryExprContext*>(context)) {
      auto out = make(ast::ExprKind::kUnary, c);
      out->text = c->op->getText();
      out->operands.push_back(expr(c->operand));
      return out;
    }
    if (auto* c = dynamic_cast<NNSpecParser::PowerExprContext*>(context)) {
      return binary(c, "^", c->base, c->exponent);
    }
    if (auto* c = dynamic_cast<NNSpecParser::MulExprContext*>(context)) {
      return binary(c, c->op->getText(), c->lhs, c->rhs);
    }
    if (auto* c = dynamic_cast<NNSpecParser::AddExprContext*>(context)) {
      return binary(c, c->op->getText(), c->lhs, c->rhs);
    }
    if (auto* c = dynamic_cast<NNSpecParser::RangeExprContext*>(context)) {
      auto out = make(ast::ExprKind::kRange, c);
      out->operands.push_back(expr(c->lo));
      out->operands.push_back(expr(c->hi));
      if (c->step != nullptr) out->operands.push_back(expr(c->step));
      return out;
    }
    // Unreachable after a clean parse: every alternative is handled above.
    auto out = make(ast::ExprKind::kName, context);
    out->text = "?";
    return out;
  }

  ast::ExprPtr binary(NNSpecParser::ExprContext* context, std::string op, NNSpecParser::ExprContext* lhs,
                      NNSpecParser::ExprContext* rhs) {
    auto out = make(ast::ExprKind::kBinary, context);
    out->text = std::move(op);
    out->operands.push_back(expr(lhs));
    out->operands.push_back(expr(rhs));
    return out;
  }

  DiagnosticEngine& diagnostics_;
};

}  // namespace

std::optional<ast::Spec> parseSpec(const SourceFile& file, DiagnosticEngine& diagnostics) {
  for (const auto& invalid : file.invalidBytes()) {
    diagnostics.error({invalid.offset, invalid.offset + 1},
                      fmt::format("invalid UTF-8 byte 0x{:02x}", invalid.byte),
                      "specs are UTF-8 text; is this the right file?");
    if (diagnostics.capReached()) return std::nullopt;
  }
  antlr4::ANTLRInputStream input(file.utf8());
  input.name = file.path();
  NNSpecLexer lexer(&input);
  lexer.removeErrorListeners();
  antlr4::CommonTokenStream tokens(&lexer);
  if (!checkLimits(tokens, diagnostics)) return std::nullopt;

  NNSpecParser parser(&tokens);
  parser.removeErrorListeners();
  SyntaxErrorListener listener(diagnostics);
  parser.addErrorListener(&listener);
  NNSpecParser::SpecContext* tree = nullptr;
  try {
    tree = parser.spec();
  } catch (const TooManyErrors&) {
    return std::nullopt;
  }
  if (diagnostics.hasErrors()) return std::nullopt;
  AstBuilder builder(diagnostics);
  ast::Spec spec = builder.build(tree);
  if (diagnostics.hasErrors()) return std::nullopt;
  return spec;
}

std::string printTokens(const SourceFile& file) {
  antlr4::ANTLRInputStream input(file.utf8());
  NNSpecLexer lexer(&input);
  lexer.removeErrorListeners();
  antlr4::CommonTokenStream tokens(&lexer);
  tokens.fill();
  std::string out;
  const auto& vocabulary = lexer.getVocabulary();
  for (antlr4::Token* token : tokens.getTokens()) {
    const LineCol at = file.lineCol(static_cast<int64_t>(token->getStartIndex()));
    std::string kind = vocabulary.getSymbolicName(token->getType());
    if (kind.empty() || kind.rfind("T__", 0) == 0) kind = "keyword";
    if (token->getType() == antlr4::Token::EOF) {
      out += fmt::format("{}:{} EOF\n", at.line, at.column);
      break;
    }
    out += fmt::format("{}:{} {} {}\n", at.line, at.column, kind, token->getText());
  }
  return out;
}

}  // namespace nnspec::frontend

// The nnspec language. One file describes one experiment: data, splits, swept
// parameters, models, training settings, sweeps and reports.
//
// The grammar fixes the shape of statements; the meaning of names and arguments
// (which layers exist, which keywords a call takes, their types) is checked by sema,
// which can say "did you mean" and point at the exact argument.
//
// Newlines are not significant: every statement starts with a keyword, and no
// expression can continue with a bare name.
grammar NNSpec;

spec
  : statement* EOF
  ;

statement
  : 'experiment' name=ident                                        # experimentStmt
  | 'seed' value=expr                                              # seedStmt
  | 'keep' policy=expr                                             # keepStmt
  | 'data' name=ident '=' source=expr ('|' transforms+=expr)*      # dataStmt
  | 'split' (name=ident ':')? roles+=splitRole (',' roles+=splitRole)*  # splitStmt
  | 'param' name=ident ('[' length=ident ']')? 'in' space=expr     # paramSweptStmt
  | 'param' name=ident '=' value=expr                              # paramFixedStmt
  | 'model' name=ident '{' layers+=layerStmt* '}'                  # modelStmt
  | 'model' name=ident '=' kind=expr                               # modelKindStmt
  | 'train' name=ident? '{' settings+=setting* '}'                 # trainStmt
  | 'sweep' (name=ident '=')? method=expr clauses+=sweepClause*    # sweepStmt
  | 'report' items+=expr (',' items+=expr)*                        # reportStmt
  ;

splitRole
  : role=ident '=' value=expr
  ;

layerStmt
  : 'input' shape=expr                                             # inputLayer
  | 'for' var=ident 'in' iterable=expr '{' body+=layerStmt* '}'    # forLayer
  | 'repeat' count=expr '{' body+=layerStmt* '}'                   # repeatLayer
  | name=ident arguments?                                          # callLayer
  ;

setting
  : key=ident values+=expr (',' values+=expr)* stopWhen?
  ;

stopWhen
  : 'stop' 'when' condition=expr
  ;

sweepClause
  : 'cv' folds=expr (stratified='stratified')?                     # cvClause
  | 'replicates' count=expr                                        # replicatesClause
  | 'trials' count=expr                                            # trialsClause
  | 'timeout' limit=expr                                           # timeoutClause
  | 'prune' pruner=expr                                            # pruneClause
  | 'select' direction=ident metric=expr                           # selectClause
  | 'ensemble' kind=expr                                           # ensembleClause
  | 'refit'                                                        # refitClause
  | 'fuse' size=expr                                               # fuseClause
  | 'using' train=ident                                            # usingClause
  | 'with' fixes+=assignment (',' fixes+=assignment)*              # withClause
  ;

assignment
  : name=ident '=' value=expr
  ;

// Expressions. ANTLR gives earlier alternatives higher precedence: postfix member
// access and calls bind tightest, ranges loosest.
expr
  : target=expr '.' member=ident                                   # memberExpr
  | callee=expr arguments                                          # callExpr
  | '[' (items+=expr (',' items+=expr)* ','?)? ']'                 # listExpr
  | '(' inner=expr ')'                                             # parenExpr
  | value=NUMBER                                                   # numberExpr
  | value=DURATION                                                 # durationExpr
  | value=STRING                                                   # stringExpr
  | value=('true' | 'false')                                       # boolExpr
  | name=exprIdent                                                 # nameExpr
  | <assoc=right> base=expr '^' exponent=expr                      # powerExpr
  | op=('-' | '+') operand=expr                                    # unaryExpr
  | lhs=expr op=('*' | '/') rhs=expr                               # mulExpr
  | lhs=expr op=('+' | '-') rhs=expr                               # addExpr
  | lo=expr '..' hi=expr ('by' step=expr)?                         # rangeExpr
  ;

arguments
  : '(' (args+=argument (',' args+=argument)* ','?)? ')'
  ;

argument
  : (key=ident ':')? value=expr
  ;

// Words that are keywords in one place may still be names in another
// (`with split = large`, `model` as a setting key, `seed: 3` as an argument).
ident
  : ID
  | 'experiment' | 'seed' | 'data' | 'split' | 'param' | 'model' | 'train'
  | 'sweep' | 'report' | 'input' | 'repeat' | 'stop' | 'when' | 'cv'
  | 'stratified' | 'replicates' | 'trials' | 'timeout' | 'prune' | 'select'
  | 'ensemble' | 'refit' | 'using' | 'with' | 'by' | 'keep' | 'fuse'
  ;

// Names inside expressions: `train` for metrics such as train.loss and for
// `val = train.holdout(0.1)`; other keywords always start a statement or a clause.
exprIdent
  : ID
  | 'train'
  ;

NUMBER
  : DIGITS ('.' DIGITS)? EXPONENT?
  | '.' DIGITS EXPONENT?
  ;

// A number with a unit, such as 30m or 2h. Sema checks the unit.
DURATION
  : DIGITS [a-zA-Z_] [a-zA-Z_0-9]*
  ;

STRING
  : '"' (~["\\\r\n] | '\\' .)* '"'
  ;

// A string whose closing quote is missing on its line; the parser reports it.
UNTERMINATED_STRING
  : '"' (~["\\\r\n] | '\\' .)*
  ;

ID
  : [a-zA-Z_] [a-zA-Z_0-9]*
  ;

COMMENT
  : '#' ~[\r\n]* -> skip
  ;

WS
  : [ \t\r\n\f]+ -> skip
  ;

// Anything else becomes one token that the parser rejects with a clear message.
UNKNOWN_CHAR
  : .
  ;

fragment DIGITS
  : [0-9]+
  ;

fragment EXPONENT
  : [eE] [+-]? DIGITS
  ;

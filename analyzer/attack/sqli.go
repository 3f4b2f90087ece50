package attack

import (
	"strings"

	"github.com/corazawaf/libinjection-go"
)

// SQL injection. Two detectors look at a value whose keywords call for
// it: libinjection's tokenizer and fingerprints (the classic breakouts
// and tautologies), and the rules below on this package's own SQL
// lexer, for what libinjection's fingerprints do not cover: stacked and
// comment-terminated queries, time- and error-based functions, database
// specific names and operators (PostgreSQL casts and JSON operators,
// MySQL executable comments, MSSQL procedures), and values that are
// nothing but a SQL fragment. Prose is told apart from SQL by its words:
// a breakout needs a short data prefix before the quote and SQL right
// after it, and libinjection's verdict on a sentence with no SQL
// structure is not taken.

// sqlKind is the kind of a SQL token.
type sqlKind uint8

const (
	sWord    sqlKind = iota // identifier or keyword
	sNum                    // number (decimal, hex, binary)
	sStr                    // quoted string, closed or not
	sOp                     // operator
	sOpen                   // (
	sClose                  // )
	sComma                  // ,
	sSemi                   // ;
	sDot                    // .
	sVar                    // @x, @@x
	sComment                // -- # /* */
	sOther                  // anything else
)

// sqlTok is one token: its kind and text (a slice of the lower-cased
// value; for strings the content).
type sqlTok struct {
	kind sqlKind
	f    uint8 // what a word is (fKeyword, fObject...)
	s    string
	pos  int  // offset in the value
	open bool // a string without its closing quote
	exec bool // a MySQL executable comment /*! ... */ (its content is lexed)
}

// maxSQLTokens bounds the tokens of a value the rules look at.
const maxSQLTokens = 256

// sqlLexer cuts a lower-cased value into tokens, into a reused slice.
type sqlLexer struct {
	toks []sqlTok
	// blind: quotes do not delimit strings (each is an sOther token), so
	// that what a quote would hide is read as SQL
	blind bool
}

// sqlLexers are the two lexers of the SQL detector: the value as it is,
// and the value after a breakout.
type sqlLexers struct {
	whole, tail, blind sqlLexer
}

// quoteAt is the quote character at v[i] (', ", `, and the typographic
// quotes some drivers and WAF tests treat as quotes: ’ ‘ ´), with its
// length in bytes, or 0.
func quoteAt(v string, i int) (byte, int) {
	switch c := v[i]; c {
	case '\'', '"', '`':
		return c, 1
	case 0xe2:
		if i+2 < len(v) && v[i+1] == 0x80 && (v[i+2] == 0x98 || v[i+2] == 0x99) {
			return '\'', 3
		}
	case 0xc2:
		if i+1 < len(v) && v[i+1] == 0xb4 {
			return '\'', 2
		}
	}
	return 0, 0
}

// lex tokenizes v starting at from; when q is not 0 the value is taken
// to begin inside a string quoted with q (the context an injected value
// lands in): the text up to the first q is one string token.
func (l *sqlLexer) lex(v string, from int, q byte) []sqlTok {
	t := l.toks[:0]
	i := from
	if q != 0 {
		j := i
		for j < len(v) {
			if c, n := quoteAt(v, j); c == q {
				t = append(t, sqlTok{kind: sStr, s: v[i:j], pos: i})
				i = j + n
				break
			} else if n > 0 {
				j += n
				continue
			}
			j++
		}
		if j >= len(v) {
			l.toks = t
			return t
		}
	}
	for i < len(v) && len(t) < maxSQLTokens {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0xa0:
			i++
		case c == '+' && i > 0 && i+1 < len(v) && isAlnum(v[i-1]) && isAlnum(v[i+1]) && !(v[i-1] >= '0' && v[i-1] <= '9' && v[i+1] >= '0' && v[i+1] <= '9'):
			i++ // union+all: a space the sender encoded as a plus
		case c == '-' && i+1 < len(v) && v[i+1] == '-':
			j := strings.IndexByte(v[i:], '\n')
			if j < 0 {
				j = len(v) - i
			}
			t = append(t, sqlTok{kind: sComment, s: v[i : i+j], pos: i})
			i += j
		case c == '#' && !(i+1 < len(v) && (v[i+1] == '>' || v[i+1] == '-')):
			j := strings.IndexByte(v[i:], '\n')
			if j < 0 {
				j = len(v) - i
			}
			t = append(t, sqlTok{kind: sComment, s: v[i : i+j], pos: i})
			i += j
		case c == '/' && i+1 < len(v) && v[i+1] == '*':
			if i+2 < len(v) && (v[i+2] == '!' || v[i+2] == '+') {
				// MySQL executable comment (and optimizer hints):
				// the content is code
				t = append(t, sqlTok{kind: sComment, s: "/*!", pos: i, exec: true})
				i += 3
				for i < len(v) && v[i] >= '0' && v[i] <= '9' {
					i++
				}
				continue
			}
			j := strings.Index(v[i+2:], "*/")
			end := len(v)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			t = append(t, sqlTok{kind: sComment, s: v[i:end], pos: i})
			i = end
		case c == '*' && i+1 < len(v) && v[i+1] == '/':
			i += 2 // the end of an executable comment
		default:
			if qc, n := quoteAt(v, i); n > 0 && l.blind {
				t = append(t, sqlTok{kind: sOther, s: string(qc), pos: i})
				i += n
				continue
			} else if n > 0 {
				j := i + n
				open := true
				for j < len(v) {
					if c2, m := quoteAt(v, j); c2 == qc {
						if j+m < len(v) && v[j+m] == qc && m == 1 { // '' inside a string
							j += 2
							continue
						}
						open = false
						break
					} else if m > 0 {
						j += m
						continue
					}
					if v[j] == '\\' && qc != '`' {
						j++
					}
					j++
				}
				if j > len(v) {
					j = len(v)
				}
				t = append(t, sqlTok{kind: sStr, s: v[i+n : j], pos: i, open: open})
				if open {
					i = len(v)
				} else {
					_, m := quoteAt(v, j)
					i = j + m
				}
				continue
			}
			switch {
			case c >= '0' && c <= '9' || c == '.' && i+1 < len(v) && v[i+1] >= '0' && v[i+1] <= '9':
				j := i + 1
				if c == '0' && j < len(v) && (v[j] == 'x' || v[j] == 'b') {
					for j++; j < len(v) && isAlnum(v[j]); j++ {
					}
				} else {
					for j < len(v) && v[j] >= '0' && v[j] <= '9' {
						j++
					}
					if j < len(v) && v[j] == '.' {
						for j++; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
						}
					}
					if j < len(v) && (v[j] == 'e' || v[j] == 'E') {
						j++
						if j < len(v) && (v[j] == '+' || v[j] == '-') {
							j++
						}
						for j < len(v) && v[j] >= '0' && v[j] <= '9' {
							j++
						}
					}
				}
				t = append(t, sqlTok{kind: sNum, s: v[i:j], pos: i})
				i = j
			case isWordByte(c):
				j := i + 1
				for j < len(v) && (isWordByte(v[j]) || v[j] >= '0' && v[j] <= '9' || v[j] == '$') {
					j++
				}
				t = append(t, sqlTok{kind: sWord, s: v[i:j], pos: i, f: sqlWords[v[i:j]]})
				i = j
			case c == '@' && i > 0 && isAlnum(v[i-1]):
				// an e-mail address, not a variable
				t = append(t, sqlTok{kind: sOther, s: "@", pos: i})
				i++
			case c == '@':
				j := i + 1
				for j < len(v) && v[j] == '@' {
					j++
				}
				k := j
				for k < len(v) && (isWordByte(v[k]) || v[k] >= '0' && v[k] <= '9' || v[k] == '.') {
					k++
				}
				if k == j { // @>, @? and @@ operators of PostgreSQL
					if j < len(v) && (v[j] == '>' || v[j] == '?') {
						j++
					}
					t = append(t, sqlTok{kind: sOp, s: v[i:j], pos: i})
					i = j
					continue
				}
				t = append(t, sqlTok{kind: sVar, s: v[i:k], pos: i})
				i = k
			case c == '(':
				t = append(t, sqlTok{kind: sOpen, s: "(", pos: i})
				i++
			case c == ')':
				t = append(t, sqlTok{kind: sClose, s: ")", pos: i})
				i++
			case c == ',':
				t = append(t, sqlTok{kind: sComma, s: ",", pos: i})
				i++
			case c == ';':
				t = append(t, sqlTok{kind: sSemi, s: ";", pos: i})
				i++
			case c == '.':
				t = append(t, sqlTok{kind: sDot, s: ".", pos: i})
				i++
			case strings.IndexByte("=<>!|&+-*/%^~?:#", c) >= 0:
				j := i + 1
				for j < len(v) && j-i < 3 && strings.IndexByte("=<>!|&?:@#-", v[j]) >= 0 && !(v[j] == '-' && j+1 < len(v) && v[j+1] == '-') {
					j++
				}
				t = append(t, sqlTok{kind: sOp, s: v[i:j], pos: i})
				i = j
			default:
				t = append(t, sqlTok{kind: sOther, s: v[i : i+1], pos: i})
				i++
			}
		}
	}
	l.toks = t
	return t
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// sqlKeywords are words that only SQL strings together as the rules
// below look for them.
var sqlKeywords = set("select", "union", "insert", "update", "delete", "drop", "create", "alter", "truncate", "exec", "execute", "declare",
	"waitfor", "delay", "from", "where", "having", "group", "order", "by", "limit", "offset", "into", "outfile", "dumpfile", "values",
	"case", "when", "then", "else", "end", "and", "or", "xor", "not", "like", "rlike", "regexp", "glob", "between", "is", "null", "in",
	"sounds", "collate", "as", "procedure", "analyse", "distinct", "distinctrow", "all", "any", "some", "exists", "table", "database",
	"escape", "div", "mod", "true", "false", "join", "similar", "notnull", "isnull", "ilike", "asc", "desc", "set", "top", "fetch", "rownum",
	"except", "intersect", "minus", "unnest", "array")

// Word flags: what a word is to the SQL rules, found with one lookup.
const (
	fKeyword  = 1 << iota // sqlKeywords
	fObject               // sqlObjects
	fSpecific             // sqlSpecificFuncs
	fStrong               // sqlStrongFuncs
	fEnglish              // englishWords
	fType                 // sqlTypes
)

// sqlWords maps words to their flags.
var sqlWords = func() map[string]uint8 {
	m := map[string]uint8{}
	for f, set := range map[uint8]map[string]bool{fKeyword: sqlKeywords, fObject: sqlObjects, fSpecific: sqlSpecificFuncs, fStrong: sqlStrongFuncs,
		fEnglish: englishWords, fType: sqlTypes} {
		for w := range set {
			m[w] |= f
		}
	}
	return m
}()

// sqlStatement says whether the tokens from i on start a statement (after
// a ';' or a breakout): a statement keyword followed by what it takes.
func sqlStatement(t []sqlTok, i int) bool {
	if i >= len(t) || t[i].kind != sWord {
		return false
	}
	next := func(k int) sqlTok {
		m := i
		for ; k > 0 && m < len(t); k-- {
			m++
			for m < len(t) && t[m].kind == sComment && !t[m].exec && m+1 < len(t) {
				m++
			}
		}
		if m < len(t) {
			return t[m]
		}
		return sqlTok{kind: sOther}
	}
	end := i+1 >= len(t) || next(1).kind == sComment || next(1).kind == sSemi
	switch t[i].s {
	case "select":
		n := next(1)
		return end || n.kind != sWord || (n.f&fEnglish == 0) || (n.f&fKeyword != 0) || next(2).kind == sComma || next(2).s == "from" || next(3).s == "from" ||
			next(2).kind == sOpen
	case "insert", "replace":
		return next(1).s == "into" || next(1).kind == sOpen || next(2).s == "values" || next(2).kind == sOpen
	case "update":
		return next(2).s == "set" || next(1).kind == sWord && next(1).s != "the" && (i+2 >= len(t) || next(2).kind == sSemi)
	case "delete":
		return next(1).s == "from" || next(2).s == "from" || next(1).kind == sWord && (end || next(2).kind == sComment)
	case "drop", "create", "alter", "truncate":
		switch next(1).s {
		case "table", "database", "schema", "view", "function", "procedure", "user", "index", "trigger", "column", "login", "role", "temporary", "or":
			return true
		}
		return end || next(1).kind == sComment || next(1).kind == sWord && (next(2).kind == sSemi || next(2).kind == sComment || i+2 >= len(t))
	case "exec", "execute":
		n := next(1)
		return end || n.kind == sOpen || n.kind == sVar || n.kind == sStr || n.s == "immediate" || n.s == "master" ||
			strings.HasPrefix(n.s, "xp_") || strings.HasPrefix(n.s, "sp_") || strings.HasPrefix(n.s, "dbms_")
	case "declare":
		return next(1).kind == sVar || next(1).kind == sWord && next(2).kind == sWord && (next(2).f&fType != 0)
	case "set":
		return next(1).kind == sVar || next(1).kind == sWord && next(2).s == "=" && next(1).s != "the"
	case "waitfor":
		return next(1).s == "delay" || next(1).s == "time"
	case "shutdown":
		return end || next(1).s == "with"
	case "grant", "revoke":
		return next(2).s == "on" || next(2).s == "to" || next(1).s == "all"
	case "union":
		return next(1).s == "select" || next(1).s == "all" || next(1).s == "distinct" || next(1).s == "distinctrow"
	case "call":
		return next(1).kind == sWord && next(2).kind == sOpen
	case "values":
		return next(1).kind == sOpen
	case "prepare":
		return next(2).s == "from"
	case "load":
		return next(1).s == "data" || next(1).s == "xml"
	case "having":
		return next(2).kind == sOp || next(1).kind == sNum
	case "order", "group":
		return next(1).s == "by" && (next(2).kind == sNum || next(2).kind == sWord && next(3).kind != sWord)
	}
	return false
}

var englishWords = set("the", "a", "an", "your", "our", "my", "their", "his", "her", "its", "this", "that", "these", "those", "one", "any",
	"all", "each", "every", "which", "what", "who", "how", "if", "to", "from", "for", "of", "on", "in", "at", "by", "with", "and", "or",
	"best", "right", "plan", "option", "options", "size", "color", "colour", "favourite", "favorite", "items", "item", "language", "country",
	"date", "time", "file", "files", "photo", "image", "here", "below", "above", "now", "me", "us", "you", "it", "them")

var sqlTypes = set("int", "integer", "text", "bool", "boolean", "json", "jsonb", "bigint", "smallint", "double", "numeric", "varchar",
	"nvarchar", "char", "regclass", "oid", "bytea", "real", "float", "decimal", "date", "timestamp", "uuid", "xml", "money", "inet", "tsvector")

// sqlStrongFuncs are functions (and names) hardly anything but SQL
// calls: a call of one is an injection wherever it is.
var sqlStrongFuncs = set("execute", "load_file", "extractvalue", "updatexml", "xmltype", "group_concat", "concat_ws", "name_const", "make_set",
	"geometrycollection", "multipoint", "multipolygon", "multilinestring", "polygon", "linestring", "pg_sleep", "benchmark", "sleep",
	"sqlite_compileoption_used", "sqlite_compileoption_get", "lo_import", "lo_export", "lo_get", "pg_read_file", "pg_ls_dir",
	"pg_read_binary_file", "current_setting", "json_search", "json_extract", "json_keys", "json_array", "json_object", "json_build_object",
	"jsonb_pretty", "string_to_array", "starts_with", "unistr", "randomblob", "zeroblob", "char_length", "substring_index", "find_in_set",
	"ifnull", "isnull", "nullif", "coalesce", "iif", "elt", "uncompress", "compress", "des_encrypt", "aes_encrypt", "unhex", "hex", "conv",
	"bin", "oct", "ord", "ascii", "mid", "substr", "substring", "instr", "locate", "position", "strcmp", "sysdate", "utc_timestamp",
	"current_user", "session_user", "system_user", "user_name", "db_name", "schema_name", "database", "version", "dbms_pipe",
	"receive_message", "dbms_lock", "dbms_xmlgen", "utl_inaddr", "utl_http", "dbms_ldap", "to_char", "to_number", "cast", "convert",
	"char", "chr", "nchar", "concat", "md5", "sha1", "sha2", "floor", "rand", "exp", "count", "length", "len", "left", "right", "lower",
	"upper", "trim", "rtrim", "ltrim", "replace", "reverse", "repeat", "space", "now", "date", "time", "year", "month", "day", "minute",
	"quarter", "user", "values", "if", "in", "abs", "pi", "pow", "power", "round", "sin", "cos", "tan", "log", "ln", "sqrt", "max", "min",
	"sum", "avg", "format", "default", "local", "decode", "encode", "insert", "overlay", "div", "greatest", "least", "extract", "sign",
	"open_query", "openquery", "openrowset", "opendatasource", "procedure", "analyse", "polyfromtext", "st_latfromgeohash", "gtid_subset",
	"row", "exists", "crc32", "schema", "regexp_substr", "regexp_replace", "xmlagg", "xmlelement", "dbms_utility", "sys_context",
	"password", "old_password", "encrypt", "found_rows", "last_insert_id", "connection_id", "uuid", "bit_length", "octet_length",
	"soundex", "difference", "quotename", "patindex", "charindex", "stuff", "datalength", "is_srvrolemember", "has_dbaccess")

// sqlSpecificFuncs are the functions of sqlStrongFuncs whose names are
// not also ordinary words or common in other languages' code: a call of
// one is an injection anywhere in a value.
var sqlSpecificFuncs = set("load_file", "extractvalue", "updatexml", "xmltype", "group_concat", "concat_ws", "name_const", "make_set",
	"geometrycollection", "multipoint", "multipolygon", "multilinestring", "pg_sleep", "benchmark", "sqlite_compileoption_used",
	"sqlite_compileoption_get", "lo_import", "lo_export", "lo_get", "pg_read_file", "pg_ls_dir", "pg_read_binary_file", "json_search",
	"jsonb_pretty", "string_to_array", "unistr", "starts_with", "randomblob", "zeroblob", "substring_index", "find_in_set", "uncompress", "des_encrypt",
	"aes_encrypt", "unhex", "utc_timestamp", "db_name", "schema_name", "dbms_pipe", "receive_message", "dbms_lock", "dbms_xmlgen",
	"utl_inaddr", "utl_http", "dbms_ldap", "openrowset", "opendatasource", "openquery", "polyfromtext", "st_latfromgeohash",
	"gtid_subset", "sys_context", "dbms_utility", "is_srvrolemember", "has_dbaccess", "current_setting", "sysdate", "iif", "elt",
	"json_build_object", "xmlagg", "old_password", "found_rows", "last_insert_id", "connection_id", "datalength", "quotename",
	"patindex", "charindex")

// sqlObjects are schema objects and procedures injections reach for.
var sqlObjects = set("information_schema", "sysobjects", "syscolumns", "sysusers", "sysdatabases", "pg_catalog", "pg_shadow", "pg_user",
	"pg_database", "pg_tables", "sqlite_master", "sqlite_temp_master", "sqlite_schema", "msysaccessobjects", "msysobjects", "msysqueries",
	"all_tables", "all_users", "all_tab_columns", "user_tables", "dba_users", "xp_cmdshell", "xp_dirtree", "xp_regread", "xp_fileexist",
	"xp_servicecontrol", "xp_availablemedia", "xp_subdirs", "xp_reg", "xp_cmd", "sp_executesql", "sp_password", "sp_oacreate",
	"sp_oamethod", "sp_makewebtask", "sp_addextendedproc", "sp_configure", "msdasql", "sqloledb", "tempdb", "msdb", "northwind",
	"pg_sleep", "dbms_java", "utl_file", "dbms_scheduler", "ctxsys", "utl_http", "utl_inaddr", "openrowset", "opendatasource", "dbms_pipe")

// sqliCheck runs the SQL detectors on a value (v as normalised, lv in
// lower case). at is where the injection starts in v.
func (d *detectors) sqliCheck(v, lv string, key bool) (ok bool, rule string, at int) {
	if len(lv) > 4096 {
		v, lv = v[:4096], lv[:4096]
	}
	if key && sqlOperatorName(lv) {
		return true, "operator_name", 0
	}
	if !key && (lv == "&&" || lv == "||" || lv == "<=>" || lv == "<<" || lv == ">>") {
		return true, "operator_value", 0
	}
	if key && sqlTrailingLogic(lv) {
		return true, "boolean_fragment", 0
	}
	// the value as it is (numeric context, a fragment, a statement)
	toks := d.sql.whole.lex(lv, 0, 0)
	if rule, at = sqlRules(toks, lv, key); rule != "" {
		return true, rule, at
	}
	// the value as the end of a quoted string: a breakout
	for _, q := range [...]byte{'\'', '"', '`'} {
		i := firstQuote(lv, q)
		if i < 0 {
			continue
		}
		if rule, at = d.breakout(lv, i, q); rule != "" {
			return true, rule, at
		}
	}
	// the value read through its quotes, when it has words quotes could
	// hide from the rules
	if strings.ContainsAny(lv, "'\"`") && blindNeedles.any(lv) {
		d.sql.blind.blind = true
		if rule, at = sqlRulesIn(d.sql.blind.lex(lv, 0, 0), lv, true); rule != "" {
			return true, rule, at
		}
		toks = d.sql.whole.lex(lv, 0, 0)
	}
	// libinjection's fingerprints are of quotes, comments and numeric
	// conditions; in prose only a UNION is taken from it
	if strings.ContainsAny(lv, "'\"`#;") || strings.Contains(lv, "--") || strings.Contains(lv, "/*") || sqlNumericStart(toks) ||
		strings.Contains(lv, "select") || strings.Contains(lv, "case") {
		if d.isProse(lv) && !strings.Contains(lv, "union") || !sqlHasSyntax(toks) {
			return false, "", 0 // prose, or words and quotes (O'Brien)
		}
		if li, fp := libinjection.IsSQLi(v); li && !sqlProse(toks, fp) {
			return true, "libinjection:" + fp, sqlStart(toks)
		}
	}
	return false, "", 0
}

// blindNeedles are the words of the rules that hold anywhere.
var blindNeedles = newNeedles("select", "union", "sleep", "benchmark", "waitfor", "@@", "exec", "from", "load_file", "outfile", "information_schema",
	"sysobjects", "pg_", "::", "@>", "<@", "->", "#>", "?|", "?&", "declare", "char(", "chr(", "concat", "extractvalue", "updatexml", "xmltype",
	"json_", "drop", "insert", "delete", "update", "msdasql", "openrowset", "utl_", "dbms_", "xp_", "sp_", "starts_with", "lo_", "unistr", "1.e")

// sqlHasSyntax says whether tokens have SQL in them: a keyword, an
// operator, a comment, a ';' or a variable.
func sqlHasSyntax(t []sqlTok) bool {
	for j, k := range t {
		switch k.kind {
		case sOp, sComment, sSemi, sVar:
			return true
		case sWord:
			if k.f&fKeyword != 0 {
				return true
			}
		case sStr:
			// a quote with SQL inside it ('x' OR 'a'='a' lexes as
			// strings), or a string in a list of values
			if strings.ContainsAny(k.s, "=;-#(|!'\"`") || strings.Contains(k.s, " or ") || strings.Contains(k.s, " and ") ||
				j+1 < len(t) && (t[j+1].kind == sComma || t[j+1].kind == sClose || t[j+1].kind == sOp) {
				return true
			}
		}
	}
	return false
}

// sqlNumericStart says whether a value starts with a number and a
// logical operator (1 OR 1=1).
func sqlNumericStart(t []sqlTok) bool {
	return len(t) > 2 && t[0].kind == sNum && t[1].kind == sWord && (t[1].s == "or" || t[1].s == "and" || t[1].s == "xor")
}

// firstQuote is the index of the first quote q (or its typographic
// forms for ') in lv, or -1.
func firstQuote(lv string, q byte) int {
	i := strings.IndexByte(lv, q)
	if q == '\'' {
		for _, alt := range [...]string{"\u2019", "\u2018", "\u00b4"} {
			if j := strings.Index(lv, alt); j >= 0 && (i < 0 || j < i) {
				i = j
			}
		}
	}
	return i
}

// sqlStart is where the SQL of a value begins: its first quote,
// operator or keyword.
func sqlStart(t []sqlTok) int {
	for _, k := range t {
		if k.kind == sStr || k.kind == sOp || k.kind == sComment || k.kind == sSemi || k.kind == sWord && (k.f&fKeyword != 0) {
			return k.pos
		}
	}
	return 0
}

// sqlProse says whether libinjection's verdict is on a sentence: the
// fingerprint has no string, comment, statement separator or function,
// and the value has a run of four ordinary words.
func sqlProse(t []sqlTok, fp string) bool {
	if strings.ContainsAny(fp, "sc;fUEvT") {
		return false
	}
	run := 0
	for _, k := range t {
		if k.kind == sWord && !(k.f&fKeyword != 0) && len(k.s) > 1 {
			run++
			if run >= 4 {
				return true
			}
			continue
		}
		if k.kind != sWord {
			run = 0
		}
	}
	return false
}

// breakout looks at a value as the end of a string quoted with q that
// starts before it: the text up to the quote at i is data, and what
// follows the quote must be SQL.
func (d *detectors) breakout(lv string, i int, q byte) (string, int) {
	prefix := lv[:i]
	// the data before the quote is short: a value (admin, 1, an e-mail
	// address), not a sentence with a possessive in it
	if len(prefix) > 48 || strings.Count(prefix, " ")+strings.Count(prefix, "+") > 2 || strings.ContainsAny(prefix, "\n\r") {
		return "", 0
	}
	_, n := quoteAt(lv, i)
	rest := i + n
	// an apostrophe inside a word (O'Brien, it's, l'union) is not a
	// breakout unless a SQL keyword is glued to it and goes on as SQL
	inWord := i > 0 && isWordByte(lv[i-1]) && rest < len(lv) && isWordByte(lv[rest])
	t := d.sql.tail.lex(lv, rest, 0)
	// skip the parentheses a breakout closes
	k := 0
	for k < len(t) && t[k].kind == sClose {
		k++
	}
	if k >= len(t) {
		return "", 0
	}
	first := t[k]
	if inWord && (first.kind != sWord || !(first.f&fKeyword != 0)) {
		return "", 0
	}
	if r, _ := sqlRulesIn(t, lv, true); r != "" && first.kind != sWord || r != "" && (first.f&fKeyword != 0) {
		return "quote_" + r, i
	}
	switch first.kind {
	case sComment:
		if k > 0 || first.exec || strings.HasPrefix(first.s, "--") || first.s == "#" || len(t) == k+1 || t[k+1].kind == sSemi {
			return "quote_comment", i
		}
	case sSemi:
		// '; and a statement, a comment or nothing
		if k+1 >= len(t) || t[k+1].kind == sComment || sqlStatement(t, k+1) || t[k+1].kind == sStr && k+2 < len(t) && t[k+2].kind == sSemi {
			return "quote_stacked", i
		}
	case sWord:
		switch first.s {
		case "or", "and", "xor", "not", "div", "like", "rlike", "regexp", "glob", "is", "in", "between", "sounds", "collate", "escape", "similar", "notnull", "isnull", "ilike", "mod":
			if sqlCondition(t, k, true) {
				return "quote_condition", i
			}
		case "union", "select", "having", "group", "order", "limit", "into", "procedure", "waitfor", "exec", "execute", "insert", "update", "delete", "drop", "alter", "create", "declare", "truncate", "shutdown":
			if sqlStatement(t, k) || !inWord && (first.s == "union" || first.s == "alter") && i <= 1 || first.s == "into" && k+1 < len(t) && (t[k+1].s == "outfile" || t[k+1].s == "dumpfile") ||
				first.s == "limit" && k+1 < len(t) && t[k+1].kind == sNum || first.s == "procedure" && k+1 < len(t) && t[k+1].s == "analyse" {
				return "quote_statement", i
			}
		}
	case sOp:
		// '||(select ...)||', '+sleep(5)+', x'|email--
		if sqlExpression(t, k+1) {
			return "quote_operator", i
		}
	case sOpen:
		if sqlExpression(t, k) && (k > 0 || sqlHasKeyword(t[k:])) {
			return "quote_expression", i
		}
	}
	return "", 0
}

// sqlHasKeyword says whether a SQL keyword or function call is among t.
func sqlHasKeyword(t []sqlTok) bool {
	for j, k := range t {
		if k.kind == sWord && ((k.f&fKeyword != 0) || j+1 < len(t) && t[j+1].kind == sOpen && (k.f&fStrong != 0)) {
			return true
		}
	}
	return false
}

// sqlCondition says whether the tokens from k on (a logical or
// comparison keyword) make a condition that ends the injection: operands
// and operators up to the end, a comment, a ';', a ')' or a string left
// open for the query's own quote. With breakout, a bare operand after
// OR/AND is enough (' or 'a, ' or true--).
func sqlCondition(t []sqlTok, k int, breakout bool) bool {
	words, ops := 0, 0
	j := k + 1
	for ; j < len(t); j++ {
		switch tk := t[j]; tk.kind {
		case sComment, sSemi:
			return true
		case sStr:
			if tk.open {
				return true
			}
		case sWord:
			if !(tk.f&fKeyword != 0) {
				words++
				if words > 4 {
					return false
				}
			}
		case sOp:
			ops++
		case sNum, sOpen, sClose, sComma, sDot, sVar:
		case sOther:
			if tk.s != "[" && tk.s != "]" {
				return false
			}
		default:
			return false
		}
	}
	// the condition runs to the end of the value
	return breakout && (ops > 0 || j-k <= 3) || ops > 0
}

// sqlExpression says whether the tokens from k on are a SQL expression
// that ends the value the way injections do: with a comment, a ';', a
// string left open, or closing what it opened; and has SQL in it (a
// keyword, a function call, a comparison).
func sqlExpression(t []sqlTok, k int) bool {
	if k >= len(t) {
		return false
	}
	depth, sql, words := 0, false, 0
	for j := k; j < len(t); j++ {
		tk := t[j]
		switch tk.kind {
		case sComment, sSemi:
			return sql || j > k
		case sStr:
			if tk.open {
				return sql || j > k
			}
		case sOpen:
			depth++
		case sClose:
			depth--
		case sWord:
			if (tk.f&fKeyword != 0) || j+1 < len(t) && t[j+1].kind == sOpen {
				sql = true
			} else {
				words++
				if words > 3 {
					return false
				}
			}
		case sOp:
			sql = true
		case sNum, sComma, sDot, sVar:
		default:
			return false
		}
	}
	return sql && depth <= 0
}

// sqlRules are the rules on the value as it is.
func sqlRules(t []sqlTok, lv string, key bool) (string, int) { return sqlRulesIn(t, lv, false) }

// sqlRulesIn is sqlRules; inner: the tokens are part of a value (after a
// breakout, or read through its quotes), where only the rules that hold
// anywhere apply.
func sqlRulesIn(t []sqlTok, lv string, inner bool) (string, int) {
	if len(t) == 0 {
		return "", 0
	}
	words := 0
	for j := 0; j < len(t); j++ {
		tk := t[j]
		next := func(k int) sqlTok {
			m := j
			for ; k > 0 && m < len(t); k-- {
				m++
				for m < len(t) && t[m].kind == sComment && !t[m].exec {
					m++
				}
			}
			if m < len(t) {
				return t[m]
			}
			return sqlTok{kind: sOther}
		}
		switch tk.kind {
		case sWord:
			if !(tk.f&fKeyword != 0) {
				words++
			}
			n := next(1)
			switch {
			case tk.s == "union" && sqlStatement(t, j):
				return "union_select", tk.pos
			case (tk.f&fObject != 0) || tk.s == "master" && n.kind == sDot && next(2).kind == sDot:
				return "schema_object", tk.pos
			case (tk.s == "in" || tk.s == "exists") && n.kind == sOpen && next(2).s == "select":
				return "subquery", tk.pos
			case tk.s == "waitfor" && (n.s == "delay" || n.s == "time"):
				return "time_based", tk.pos
			case tk.s == "into" && (n.s == "outfile" || n.s == "dumpfile"):
				return "into_outfile", tk.pos
			case (tk.s == "exec" || tk.s == "execute") && (n.kind == sVar && n.pos > tk.pos+len(tk.s) || n.kind == sOpen && (next(2).kind == sVar || next(2).s == "@") || n.s == "master" || n.s == "immediate" ||
				n.kind == sWord && (strings.HasPrefix(n.s, "xp_") || strings.HasPrefix(n.s, "sp_"))):
				return "exec_procedure", tk.pos
			case tk.s == "declare" && (n.kind == sVar || n.kind == sOp && n.s == "@"):
				return "declare_variable", tk.pos
			case tk.s == "procedure" && n.s == "analyse":
				return "procedure_analyse", tk.pos
			case tk.s == "insert" && n.s == "into" && next(2).kind == sWord && (next(3).kind == sOpen || next(3).s == "values" || next(3).s == "select"):
				return "insert_into", tk.pos
			case tk.s == "select" && (n.kind == sVar && strings.HasPrefix(n.s, "@@") || n.kind == sOpen && (next(2).s == "select" || next(2).s == "case")):
				return "select", tk.pos
			case tk.s == "when" && j+2 < len(t) && sqlWhenThen(t, j):
				return "case_when", tk.pos
			case tk.s == "values" && n.kind == sOpen && j == 0:
				return "values_list", tk.pos
			case (tk.s == "mysql" || tk.s == "sys" || tk.s == "master") && n.kind == sDot && next(2).kind == sWord && sqlObjectOf(tk.s, next(2).s):
				return "schema_object", tk.pos
			case tk.s == "case" && n.s == "when" && sqlCaseWhen(t, j):
				return "case_when", tk.pos
			case tk.s == "having" && (n.kind == sNum || n.kind == sWord) && (next(2).kind == sOp || next(2).kind == sOpen && (n.f&fStrong != 0)):
				return "having", tk.pos
			case tk.s == "order" && n.s == "by" && next(2).kind == sNum && (j+3 >= len(t) || next(3).kind == sComment):
				return "order_by_probe", tk.pos
			case tk.s == "order" && n.s == "by" && next(2).s == "if" && next(3).kind == sOpen:
				return "order_by_if", tk.pos
			case tk.s == "from" && (n.kind == sOpen && next(2).s == "select" || n.kind == sWord && ((n.f&fObject != 0) || next(2).kind == sDot && next(3).kind == sWord && next(4).s == "limit")):
				return "from_subquery", tk.pos
			case (tk.s == "or" || tk.s == "and" || tk.s == "xor") && j > 0 && t[j-1].kind == sNum && (j == 1 || j == 2 && t[0].kind == sOp) && sqlTautology(t, j+1):
				return "numeric_condition", t[j-1].pos
			case tk.s == "not" && j > 0 && t[j-1].kind == sStr && (n.s == "regexp" || n.s == "like" || n.s == "between"):
				return "condition", t[j-1].pos
			case n.kind == sOpen && !afterDot(t, j):
				if tk.f&fSpecific != 0 {
					return "function_" + tk.s, tk.pos
				}
				if (tk.s == "sleep" || tk.s == "benchmark") && (next(2).kind == sNum || next(2).kind == sOpen || next(2).kind == sWord && next(3).kind == sOp) {
					return "time_based", tk.pos
				}
				if (tk.s == "char" || tk.s == "chr" || tk.s == "ascii" || tk.s == "ord" || tk.s == "hex") && next(2).kind == sNum && next(3).kind == sClose &&
					(next(4).kind == sOp || next(4).kind == sDot) {
					return "char_concat", tk.pos
				}
				if (tk.s == "concat" || tk.s == "char") && next(2).kind == sNum && strings.HasPrefix(next(2).s, "0x") {
					return "hex_concat", tk.pos
				}
				if (tk.s == "user" || tk.s == "database" || tk.s == "version" || tk.s == "current_user" || tk.s == "schema" || tk.s == "session_user" || tk.s == "system_user") && next(2).kind == sClose {
					return "function_" + tk.s, tk.pos
				}
				if tk.s == "if" && (next(2).kind == sNum || next(2).kind == sWord) && next(3).s == "=" {
					return "conditional", tk.pos
				}
				if (tk.s == "floor" && next(2).s == "rand") || (tk.s == "exp" && next(2).s == "~") {
					return "error_based", tk.pos
				}
				if tk.s == "overlay" && strings.Contains(lv[tk.pos:], "placing") {
					return "function_overlay", tk.pos
				}
			}
		case sVar:
			if strings.HasPrefix(tk.s, "@@") && len(tk.s) > 3 {
				return "system_variable", tk.pos
			}
		case sStr:
			if tk.f&fObject != 0 {
				return "schema_object", tk.pos
			}
		case sNum:
			// 1.e(ascii), 1.e.tables: MySQL reads 1.e as a number and what
			// follows as SQL
			if strings.HasSuffix(tk.s, ".e") && (next(1).kind == sOpen || next(1).kind == sDot) {
				return "scientific_notation", tk.pos
			}
		case sSemi:
			if sqlStatement(t, j+1) {
				return "stacked_query", tk.pos
			}
		case sComment:
			if tk.exec {
				for m := j + 1; m < len(t) && m <= j+3; m++ {
					if t[m].kind == sWord && (t[m].f&fKeyword != 0) {
						return "executable_comment", tk.pos
					}
				}
			}
			if strings.HasPrefix(tk.s, "/*") && j > 0 && j+1 < len(t) && t[j-1].kind == sWord && t[j+1].kind == sWord &&
				((t[j-1].f&fKeyword != 0) || (t[j+1].f&fKeyword != 0)) && t[j-1].pos+len(t[j-1].s) == tk.pos {
				return "comment_whitespace", tk.pos
			}
			// DR/**/OP: a comment inside a keyword
			if strings.HasPrefix(tk.s, "/*") && j > 0 && j+1 < len(t) && t[j-1].kind == sWord && t[j+1].kind == sWord &&
				t[j-1].pos+len(t[j-1].s) == tk.pos && tk.pos+len(tk.s) == t[j+1].pos && sqlKeywords[t[j-1].s+t[j+1].s] {
				return "comment_split_keyword", tk.pos
			}
		case sOp:
			switch tk.s {
			case "::":
				if n := next(1); n.kind == sWord && (n.f&fType != 0) && j > 0 && (t[j-1].kind == sClose || t[j-1].kind == sStr || t[j-1].kind == sWord) {
					return "postgres_cast", tk.pos
				}
			case "@>", "<@", "?|", "?&", "#>", "#>>", "->>", "@?", "#-", "@@":
				if j > 0 && (t[j-1].kind == sStr || t[j-1].kind == sWord && next(1).kind == sStr) {
					return "json_operator", tk.pos
				}
			case "->":
				if j > 0 && t[j-1].kind == sStr && (next(1).kind == sStr || next(1).kind == sNum) {
					return "json_operator", tk.pos
				}
			case "||", "&&":
				if j == 0 && sqlCondition(t, j, false) {
					return "boolean_fragment", tk.pos
				}
			}
		}
	}
	if inner {
		return "", 0
	}
	// a value that starts as a SQL condition: AND 7639=(, or 1=', || c == '
	if t[0].kind == sWord && (t[0].s == "and" || t[0].s == "or") && len(t) > 2 && (t[1].kind == sNum || t[1].kind == sWord || t[1].kind == sOpen || t[1].kind == sStr) &&
		(sqlTautology(t, 1) && !sqlWordsOnly(t[1:]) && !sqlJuxtaposed(t, 1) || sqlJSONOp(t) || t[1].kind == sWord && len(t) > 2 && t[2].kind == sOpen && (t[1].f&fStrong != 0) || t[len(t)-1].kind == sComment) {
		return "boolean_fragment", t[0].pos
	}
	if sqlComparison(t) {
		return "comparison", t[0].pos
	}
	// a value that is a FROM clause: FROM t WHERE ..., FROM `db`.`t` LIMIT
	if t[0].s == "from" && len(t) >= 3 && sqlFromClause(t) {
		return "from_clause", t[0].pos
	}
	// a value that is a SQL statement
	if j := sqlLead(t); j < len(t) && t[j].kind == sWord && sqlStatement(t, j) && sqlStatementShape(t, j) && sqlWholeStatement(t, j) {
		return "statement", t[j].pos
	}
	// a value that is a function call left open: md5(, SLEEP (, pay=if(
	if len(lv) <= 48 {
		if n := len(t); n >= 2 && t[n-1].kind == sOpen && t[0].kind == sWord && (t[0].f&fStrong != 0) && sqlPunct(t[1:n-1]) {
			return "function_fragment", t[0].pos
		}
		// ) AS alias FROM: the end of a select list
		if aliasFrom(lv) {
			return "alias_from", 0
		}
	}
	return "", 0
}

// sqlPunct says whether tokens are only operators and punctuation.
func sqlPunct(t []sqlTok) bool {
	for _, k := range t {
		if k.kind != sOp && k.kind != sOther && k.kind != sDot && k.kind != sStr && k.kind != sClose && k.kind != sComment {
			return false
		}
	}
	return true
}

// quoteSpaces puts blanks around quotes, to cut at them.
var quoteSpaces = strings.NewReplacer("`", " ` ", "\"", " \" ", "'", " ' ")

// aliasFrom says whether a short value is the end of a select list:
// ) AS alias FROM, `x` AS `y` from, 6 As" from.
func aliasFrom(lv string) bool {
	if !strings.Contains(lv, "from") || !strings.Contains(lv, "as") {
		return false
	}
	f := strings.Fields(quoteSpaces.Replace(lv))
	if len(f) >= 4 && f[len(f)-2] == "from" {
		f = f[:len(f)-1] // and the table
	}
	if len(f) < 3 || f[len(f)-1] != "from" {
		return false
	}
	for i := 1; i < len(f)-1; i++ {
		if f[i] == "as" {
			lead := strings.Join(f[:i], "")
			return strings.Trim(lead, ")`'\"!;0123456789") == "" && len(f)-i <= 6
		}
	}
	return false
}

// sqlFromClause says whether tokens that start with FROM go on as SQL:
// a table (or a subquery) and a clause after it.
func sqlFromClause(t []sqlTok) bool {
	if t[1].kind == sOpen && len(t) > 2 && t[2].s == "select" {
		return true
	}
	if t[1].kind != sWord && t[1].kind != sStr || t[1].kind == sWord && (t[1].f&fEnglish != 0) {
		return false
	}
	k := 2
	if k+1 < len(t) && t[k].kind == sDot {
		k += 2 // schema.table
	}
	if k < len(t) && t[k].kind == sWord && !(t[k].f&fKeyword != 0) {
		k++ // an alias
	}
	if k >= len(t) {
		return false
	}
	switch t[k].s {
	case "where", "limit", "group", "order", "join", "union", "having", "inner", "left":
		return true
	}
	return false
}

// sqlWordsOnly says whether a comparison is between plain words (or
// cost = price), the way prose can read, rather than with a number, a
// quote, a parenthesis or an operator left open.
func sqlWordsOnly(t []sqlTok) bool {
	for _, k := range t {
		switch k.kind {
		case sNum, sStr, sOpen, sClose, sVar, sComment:
			return false
		case sOp:
			if k.s != "=" && k.s != "==" {
				return false
			}
		}
	}
	return t[len(t)-1].kind == sWord
}

// sqlOperatorName says whether a parameter name is only SQL operators
// (||, <=>, >=) or operator keywords (XOR, IS NULL, RLIKE, in (0,1)),
// or a statement keyword and a word (execute x, order by): names a
// query builder turns into SQL.
func sqlOperatorName(lk string) bool {
	k := strings.TrimSpace(lk)
	if k == "" {
		return false
	}
	if strings.Trim(k, "|&<>=!~^-") == "" && len(k) >= 2 {
		return true
	}
	switch k {
	case "xor", "rlike", "regexp", "is null", "is not null", "not like", "sounds like", "not regexp", "not between", "order by", "group by", "union all", "union select":
		return true
	}
	if strings.HasPrefix(k, "in (") || strings.HasPrefix(k, "in(") {
		return true
	}
	if f := strings.Fields(k); len(f) == 2 && (f[0] == "execute" || f[0] == "exec") && isWordish(f[1]) {
		return true
	}
	return false
}

func isWordish(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) && !(s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return s != ""
}

// sqlTrailingLogic says whether a name ends in a logical operator left
// open (/x OR, /3 and(): the start of a condition cut into a name.
func sqlTrailingLogic(lk string) bool {
	k := strings.TrimRight(lk, " (")
	for _, op := range [...]string{" or", " and", " xor", "||", "&&"} {
		if strings.HasSuffix(k, op) && len(k) > len(op) && strings.ContainsAny(k[:len(k)-len(op)], "/0123456789_") {
			return true
		}
	}
	return false
}

// sqlComparison says whether a value is only a comparison of numbers
// (1=1, 42 like 42, 11!=1, 1 is not 2): a tautology probe.
func sqlComparison(t []sqlTok) bool {
	k := 0
	if len(t) > 2 && t[1].kind == sComma {
		k = 2
	}
	if len(t)-k < 3 || t[k].kind != sNum || t[len(t)-1].kind != sNum {
		return false
	}
	ops := 0
	for _, x := range t[k+1 : len(t)-1] {
		switch {
		case x.kind == sOp && (x.s == "=" || x.s == "!=" || x.s == "<>" || x.s == "<=>"):
			ops++
		case x.kind == sWord && (x.s == "like" || x.s == "is" || x.s == "not" || x.s == "rlike" || x.s == "regexp"):
			ops++
		default:
			return false
		}
	}
	return ops > 0
}

// sqlJSONOp says whether tokens use a PostgreSQL JSON operator.
func sqlJSONOp(t []sqlTok) bool {
	for _, k := range t {
		if k.kind == sOp {
			switch k.s {
			case "@>", "<@", "?|", "?&", "#>", "#>>", "->>", "?", "@?", "#-":
				return true
			}
		}
	}
	return false
}

// sqlWhenThen says whether WHEN at j goes on to THEN within a few tokens
// with a value or comparison between: ) when 234 then.
func sqlWhenThen(t []sqlTok, j int) bool {
	for k := j + 1; k < len(t) && k < j+6; k++ {
		if t[k].s == "then" {
			return k > j+1 && (t[j+1].kind == sNum || t[j+1].kind == sStr || t[k-1].kind == sNum)
		}
	}
	return false
}

// sqlObjectOf says whether schema.name is a system object (mysql.user,
// sys.objects, master..sysdatabases).
func sqlObjectOf(schema, name string) bool {
	switch schema {
	case "mysql":
		return name == "user" || name == "db" || name == "tables_priv" || name == "columns_priv"
	case "sys":
		return name == "objects" || name == "tables" || name == "columns" || name == "databases" || name == "sysobjects"
	}
	return true
}

// afterDot says whether the word at j is a method (x.sleep(...)).
func afterDot(t []sqlTok, j int) bool {
	return j > 0 && t[j-1].kind == sDot && t[j-1].pos+1 == t[j].pos
}

// sqlLead skips what an injection puts before a statement: quotes,
// parentheses, a ';', a number.
func sqlLead(t []sqlTok) int {
	j := 0
	for j < len(t) && (t[j].kind == sSemi || t[j].kind == sClose || t[j].kind == sStr && t[j].s == "" || t[j].kind == sOp && t[j].s == "/") {
		j++
	}
	return j
}

// sqlStatementShape checks that a statement is SQL and not an English
// sentence that starts with one of its words: "select your plan from the
// list" has a select list of three bare words.
func sqlStatementShape(t []sqlTok, j int) bool {
	switch t[j].s {
	case "select":
		run := 0
		for k := j + 1; k < len(t); k++ {
			tk := t[k]
			if tk.kind == sWord && !(tk.f&fKeyword != 0) {
				run++
				if run > 2 {
					return false
				}
				continue
			}
			if tk.kind == sWord && tk.s == "from" {
				// FROM table, then nothing or SQL
				rest := 0
				for m := k + 1; m < len(t); m++ {
					if t[m].kind == sWord && !(t[m].f&fKeyword != 0) {
						rest++
						if rest > 2 && m+1 < len(t) && t[m+1].kind == sWord {
							return false
						}
					} else {
						rest = 0
					}
				}
				return true
			}
			run = 0
		}
		return true
	case "update":
		return len(t) > j+2 && t[j+2].s == "set" || len(t) <= j+3
	}
	return true
}

// sqlWholeStatement says whether a value that starts with a statement
// keyword has what makes it one: a clause (FROM, INTO, SET, VALUES,
// TABLE...), a function call, a variable, a number or a comment; "select
// & pay" and "delete" alone are words.
func sqlWholeStatement(t []sqlTok, j int) bool {
	if len(t)-j < 2 {
		return false
	}
	var clauses map[string]bool
	switch t[j].s {
	case "select":
		clauses = selectClauses
	case "insert", "replace":
		clauses = insertClauses
	case "update":
		clauses = updateClauses
	case "delete":
		clauses = deleteClauses
	case "drop", "create", "alter", "truncate":
		clauses = ddlClauses
	default:
		clauses = otherClauses
	}
	for k := j + 1; k < len(t); k++ {
		switch tk := t[k]; tk.kind {
		case sWord:
			if clauses[tk.s] && (t[j].s != "update" || k == j+2) && k+1 < len(t) {
				return true
			}
		case sVar, sComment, sSemi:
			return true
		case sOpen:
			if k > j+1 && t[k-1].kind == sWord && t[j].s != "drop" || k == j+1 && t[j].s == "select" {
				return true
			}
		case sOp:
			if tk.s == "*" && k == j+1 {
				return true
			}
		case sNum:
			if k == j+1 && t[j].s == "select" {
				return true
			}
		}
	}
	return false
}

var (
	selectClauses = set("from", "into")
	insertClauses = set("into", "values")
	updateClauses = set("set")
	deleteClauses = set("from")
	ddlClauses    = set("table", "database", "schema", "view", "function", "procedure", "user", "index", "trigger", "column")
	otherClauses  = set("delay", "xp_cmdshell", "master", "immediate", "from", "to", "on")
)

// sqlTautology says whether the tokens from k on compare two operands
// (1=1, 'a'='a', 2>1, x is not null, 1 like 1).
func sqlTautology(t []sqlTok, k int) bool {
	for j := k; j < len(t) && j < k+10; j++ {
		switch tk := t[j]; {
		case tk.kind == sOp && (tk.s == "=" || tk.s == "==" || tk.s == "<" || tk.s == ">" || tk.s == "<>" || tk.s == "!=" || tk.s == ">=" ||
			tk.s == "<=" || tk.s == "<=>" || tk.s == "===" || tk.s == "!=="):
			return true
		case tk.kind == sWord && (tk.s == "like" || tk.s == "between" || tk.s == "regexp" || tk.s == "rlike" || tk.s == "glob"):
			return j > k
		case tk.kind == sWord && tk.s == "is" && j+1 < len(t):
			n := t[j+1].s
			return j > k && (n == "null" || n == "not" || n == "true" || n == "false")
		case tk.kind == sComment || tk.kind == sSemi:
			return false
		}
	}
	return false
}

// sqlJuxtaposed says whether the left operand of the comparison from k on
// has two plain words in a row ("or use the <b"): prose, not an
// expression.
func sqlJuxtaposed(t []sqlTok, k int) bool {
	const sql = fKeyword | fSpecific | fStrong | fObject | fType
	for j := k + 1; j < len(t) && j < k+10; j++ {
		if t[j].kind != sWord {
			if t[j].kind == sOp || t[j].kind == sComment || t[j].kind == sSemi {
				return false
			}
			continue
		}
		if t[j-1].kind == sWord && t[j].f&sql == 0 && t[j-1].f&sql == 0 {
			return true
		}
	}
	return false
}

// sqlCaseWhen says whether CASE WHEN goes on as SQL: a comparison and a
// THEN within a few tokens.
func sqlCaseWhen(t []sqlTok, j int) bool {
	cmp := false
	for k := j + 2; k < len(t) && k < j+12; k++ {
		if t[k].kind == sOp || t[k].kind == sOpen {
			cmp = true
		}
		if t[k].s == "then" {
			return cmp
		}
	}
	return false
}

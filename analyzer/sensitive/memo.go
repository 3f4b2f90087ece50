package sensitive

import (
	"strings"
	"unsafe"
)

// A client sends the same bearer token on every call of its session, and
// scanning a JWT (walking it, decoding its header) costs more than a map
// lookup: the findings of a token are remembered and replayed.

// maxTokens bounds the remembered tokens per worker (forgotten all at once
// when full).
const maxTokens = 4096

// tokenScan is what scanning one token found: at most len(f) findings,
// each with its value's offsets in the token.
type tokenScan struct {
	n   int
	f   [2]Finding // Value and json unset
	off [2][2]int
}

// scanToken scans a bearer token (as Scanner.Value with no name would),
// from the memo when the token was seen before.
func (a *Analyzer) scanToken(tok string) {
	if m, ok := a.tokens[tok]; ok {
		for i := 0; i < m.n; i++ {
			f := m.f[i]
			f.Value = bytesOf(tok[m.off[i][0]:m.off[i][1]])
			a.onFinding(&f)
		}
		return
	}
	a.memo, a.memoOK, a.memoOf = tokenScan{}, true, tok
	a.scan.Value(bytesOf(tok), "", a.collectTok)
	if !a.memoOK || len(tok) > 4096 {
		return
	}
	if a.tokens == nil || len(a.tokens) >= maxTokens {
		a.tokens = make(map[string]tokenScan, 256)
	}
	a.tokens[strings.Clone(tok)] = a.memo
}

// collectMemo records a finding of scanToken, then collects it.
func (a *Analyzer) collectMemo(f *Finding) {
	if a.memoOK {
		off, ok := within(a.memoOf, f.Value)
		if !ok || a.memo.n == len(a.memo.f) || f.json != nil {
			a.memoOK = false // not replayable: scanned each time
		} else {
			c := *f
			c.Value, c.json = nil, nil
			a.memo.f[a.memo.n], a.memo.off[a.memo.n] = c, off
			a.memo.n++
		}
	}
	a.onFinding(f)
}

// within returns v's offsets in s, if v is a non-empty part of s's memory
// (and not a copy in the scanner's scratch space).
func within(s string, v []byte) ([2]int, bool) {
	if len(v) == 0 || len(s) == 0 {
		return [2]int{}, false
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	if p < base || p+uintptr(len(v)) > base+uintptr(len(s)) {
		return [2]int{}, false
	}
	o := int(p - base)
	return [2]int{o, o + len(v)}, true
}

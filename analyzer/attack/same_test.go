package attack

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The forms below are the straightforward versions of functions that were
// rewritten to cost less: the rewrites must answer exactly as they do.

func commandStartRef(v string) bool {
	i := 0
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '"' || v[i] == '\'' || v[i] == '(' || v[i] == '{') {
		i++
	}
	if i == len(v) || commandLens[lowerTab[v[i]]] == 0 && v[i] != '/' {
		return false // no command starts with this byte
	}
	j := i
	for j < len(v) && j-i < 24 && !wordEnd[v[j]] {
		j++
	}
	if j == i || j-i >= 24 {
		return false
	}
	w := v[i:j]
	if strings.HasPrefix(w, "if/") || strings.HasPrefix(w, "for/") || strings.HasPrefix(w, "IF/") || strings.HasPrefix(w, "FOR/") {
		return true
	}
	if k := strings.LastIndexByte(w, '/'); k >= 0 {
		if w[0] != '/' && !strings.HasPrefix(w, "bin/") {
			return false
		}
		w = w[k+1:]
	}
	if len(w) == 0 || len(w) > 31 || commandLens[lowerTab[w[0]]]&(1<<len(w)) == 0 {
		return false // no command has this first letter and length
	}
	var b [24]byte
	n := copy(b[:], w)
	for k := 0; k < n; k++ {
		b[k] = lowerTab[b[k]]
	}
	kind := commands[string(b[:n])]
	if kind == 0 && string(b[:n]) != "for" && string(b[:n]) != "if" {
		return false
	}
	// a word alone (a JSON key "id", a value "date") is no command line
	// unless it is a tool
	return j < len(v) || kind == cmdTool || kind == cmdAlone
}

func redirectNameRef(name string) bool {
	if len(name) == 0 || len(name) > 24 {
		return false
	}
	var b [24]byte
	n := copy(b[:], name)
	for i := 0; i < n; i++ {
		b[i] = lowerTab[b[i]]
	}
	if redirectParams[string(b[:n])] {
		return true
	}
	l := string(b[:n])
	if i := strings.LastIndexAny(l, ".[_-"); i >= 0 {
		return redirectParams[strings.Trim(l[i:], "._-[]")]
	}
	return false
}

func TestCommandStartSame(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var words []string
	for n := range commands {
		words = append(words, n, strings.ToUpper(n), n[:len(n)-1], n+"x", "x"+n)
	}
	words = append(words, "for", "if", "FOR/F", "if/i", "name", "John", "/bin/", "bin/cat", "/usr/bin/id", "date", "", " ", `"`, "(", "{", "é")
	seps := []string{" ", "", ";", "/", "\t", "-la", " -la /etc", "'", "\"", "|", "\xff"}
	for n := 0; n < 300000; n++ {
		var b strings.Builder
		for k := r.IntN(3); k >= 0; k-- {
			b.WriteString(seps[r.IntN(len(seps))])
			b.WriteString(words[r.IntN(len(words))])
		}
		v := b.String()
		if got, want := commandStart(v), commandStartRef(v); got != want {
			t.Fatalf("commandStart(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRedirectNameSame(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var names []string
	for n := range redirectParams {
		names = append(names, n, strings.ToUpper(n))
	}
	parts := []string{".", "[", "]", "_", "-", "x", "data", "é", "\xff", "URL"}
	for n := 0; n < 300000; n++ {
		var b strings.Builder
		for k := r.IntN(4); k >= 0; k-- {
			if r.IntN(2) == 0 {
				b.WriteString(names[r.IntN(len(names))])
			} else {
				b.WriteString(parts[r.IntN(len(parts))])
			}
		}
		v := b.String()
		if got, want := redirectName(v), redirectNameRef(v); got != want {
			t.Fatalf("redirectName(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestFileNameHeaderSame(t *testing.T) {
	ref := func(name string) bool {
		return len(name) >= 10 && (strings.EqualFold(name, "x-filename") || strings.EqualFold(name, "x-file-name") || strings.EqualFold(name, "x-upload-filename"))
	}
	for _, n := range []string{"x-filename", "X-FileName", "x-file-name", "X-Upload-Filename", "x-upload-filenamE", "x-filenam", "x-filenames", "content-type", "x-fılename", "x-fİlename", "", "x-upload-file-name"} {
		if got, want := fileNameHeader(n), ref(n); got != want {
			t.Fatalf("fileNameHeader(%q) = %v, want %v", n, got, want)
		}
	}
}

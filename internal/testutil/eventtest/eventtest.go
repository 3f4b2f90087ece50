// Package eventtest validates events against the JSON Schemas in
// docs/schema, for tests anywhere in the repository: every test that emits
// events calls Validate or ValidateStream on them.
package eventtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	loadErr error
)

// SchemaDir finds docs/schema by walking up from the working directory to
// the module root.
func SchemaDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "schema"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func load() {
	dir, err := SchemaDir()
	if err != nil {
		loadErr = err
		return
	}
	c := jsonschema.NewCompiler()
	files, err := filepath.Glob(filepath.Join(dir, "*.schema.json"))
	if err != nil || len(files) == 0 {
		loadErr = fmt.Errorf("no schemas in %s", dir)
		return
	}
	schemas = map[string]*jsonschema.Schema{}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		s, err := c.Compile(abs)
		if err != nil {
			loadErr = fmt.Errorf("compile %s: %w", f, err)
			return
		}
		name := filepath.Base(f)
		schemas[name[:len(name)-len(".schema.json")]] = s
	}
}

// Check validates one JSON line against the schema of its "type".
func Check(line []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	var env struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &env); err != nil {
		return err
	}
	s, ok := schemas[env.Type]
	if !ok || env.Type == "envelope" {
		return fmt.Errorf("no schema for event type %q", env.Type)
	}
	return s.Validate(v)
}

// Validate fails t when line is not a valid event.
func Validate(t testing.TB, line []byte) {
	t.Helper()
	if err := Check(line); err != nil {
		t.Fatalf("invalid event: %v\n%s", err, line)
	}
}

// ValidateStream validates every line of r.
func ValidateStream(t testing.TB, r io.Reader) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	n := 0
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		n++
		Validate(t, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// CheckAs validates a JSON document against the named schema of
// docs/schema (the file name without .schema.json), for documents that
// are not events (the admin API's answers).
func CheckAs(name string, doc []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	s, ok := schemas[name]
	if !ok {
		return fmt.Errorf("no schema %q", name)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

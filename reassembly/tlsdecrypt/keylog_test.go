package tlsdecrypt

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeyLogFile: the file is read at the start, re-read when it grows
// (lines split across writes), read again from its start when it is
// replaced or truncated; bad lines are counted; the oldest sessions go
// past MaxEntries.
func TestKeyLogFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.log")
	line := func(i int) string {
		return fmt.Sprintf("CLIENT_RANDOM %064x %s\n", i, strings.Repeat("ab", 48))
	}
	os.WriteFile(path, []byte("# header\n"+line(1)+"garbage line\n"), 0o600)
	k, err := OpenKeyLog(path, KeyLogOptions{MaxEntries: 3, RefreshEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	has := func(i int) bool {
		var cr [32]byte
		cr[31] = byte(i)
		var s Secrets
		return k.Lookup(&cr, HasMaster, &s)
	}
	if !has(1) || has(2) {
		t.Fatal("first read")
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	l2 := line(2)
	f.WriteString(l2[:30])
	if has(2) {
		t.Fatal("half a line read")
	}
	f.WriteString(l2[30:] + line(3) + line(4))
	f.Close()
	if !has(2) || !has(4) || has(1) {
		t.Fatalf("after growing: 2 %v, 4 %v, 1 (evicted) %v", has(2), has(4), has(1))
	}
	// replaced by a new file (rename over it)
	tmp := filepath.Join(dir, "new.log")
	os.WriteFile(tmp, []byte(line(5)), 0o600)
	os.Rename(tmp, path)
	if !has(5) {
		t.Fatal("replaced file not read")
	}
	// truncated and rewritten
	os.WriteFile(path, []byte(line(6)), 0o600)
	if !has(6) {
		t.Fatal("truncated file not read again")
	}
	st := k.Stats()
	if st.BadLines != 1 || st.Evicted < 2 || st.Reopened != 2 || st.Entries != 3 {
		t.Errorf("stats %+v", st)
	}
	if _, err := OpenKeyLog(filepath.Join(dir, "missing"), KeyLogOptions{}); err == nil {
		t.Error("a missing key log opened")
	}
}

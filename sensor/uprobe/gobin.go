package uprobe

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/apitap/apitap/bpf/tlsprobe"
)

// Go binaries: crypto/tls's (*Conn).Read and (*Conn).Write are found in
// the symbol table or, in a stripped binary, in the pclntab (which the
// runtime needs and stripping keeps); Read's RET instructions are found by
// disassembling it, since a uretprobe rewrites the return address on the
// goroutine's stack, which Go moves and inspects.

const (
	goRead  = "crypto/tls.(*Conn).Read"
	goWrite = "crypto/tls.(*Conn).Write"
)

// errNotGo says a file is no Go program; errNoTLS that it does not use
// crypto/tls.
var (
	errNotGo = errors.New("not a Go program")
	errNoTLS = errors.New("no crypto/tls in the program")
)

// goBinary is what analysing a Go executable found.
type goBinary struct {
	Version  string // go1.22.1
	Stripped bool   // found in the pclntab, not the symbol table
	Funcs    tlsprobe.GoFunc
}

// analyseGo finds where to probe crypto/tls in the Go executable at path.
func analyseGo(path string) (*goBinary, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, errNotGo
	}
	g := &goBinary{Version: bi.GoVersion}
	if !regABI(bi.GoVersion) {
		return g, fmt.Errorf("%s: Go before 1.17 passes arguments on the stack, not supported", bi.GoVersion)
	}
	f, err := elf.Open(path)
	if err != nil {
		return g, err
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return g, fmt.Errorf("%s executable: only amd64 is supported", f.Machine)
	}
	read, write, err := symFuncs(f)
	if err != nil {
		g.Stripped = true
		read, write, err = pclnFuncs(f)
	}
	if err != nil {
		return g, err
	}
	code, err := vaBytes(f, read.lo, read.hi)
	if err != nil {
		return g, err
	}
	rets, err := retOffsets(code)
	if err != nil {
		return g, err
	}
	if len(rets) == 0 {
		return g, errors.New("no RET in (*Conn).Read")
	}
	if g.Funcs.Read, err = fileOffset(f, read.lo); err != nil {
		return g, err
	}
	if g.Funcs.Write, err = fileOffset(f, write.lo); err != nil {
		return g, err
	}
	for _, r := range rets {
		g.Funcs.ReadRets = append(g.Funcs.ReadRets, g.Funcs.Read+r)
	}
	return g, nil
}

// regABI says a Go version passes arguments in registers on amd64 (1.17+).
func regABI(v string) bool {
	v = strings.TrimPrefix(v, "go")
	major, rest, _ := strings.Cut(v, ".")
	minor, _, _ := strings.Cut(rest, ".")
	for i, c := range minor { // go1.21rc2, go1.22-devel
		if c < '0' || c > '9' {
			minor = minor[:i]
			break
		}
	}
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	return err1 == nil && err2 == nil && (ma > 1 || ma == 1 && mi >= 17)
}

type span struct{ lo, hi uint64 }

// symFuncs finds the functions in the symbol table.
func symFuncs(f *elf.File) (read, write span, err error) {
	syms, err := f.Symbols()
	if err != nil {
		return read, write, err
	}
	for _, s := range syms {
		switch s.Name {
		case goRead:
			read = span{s.Value, s.Value + s.Size}
		case goWrite:
			write = span{s.Value, s.Value + s.Size}
		}
	}
	if read.lo == 0 || write.lo == 0 || read.hi <= read.lo {
		return read, write, errNoTLS
	}
	return read, write, nil
}

// pclnFuncs finds the functions in the pclntab.
func pclnFuncs(f *elf.File) (read, write span, err error) {
	sec := f.Section(".gopclntab")
	if sec == nil {
		return read, write, errors.New("no symbol table and no .gopclntab section")
	}
	data, err := sec.Data()
	if err != nil {
		return read, write, err
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, textStart(f, data)))
	if err != nil {
		return read, write, fmt.Errorf("pclntab: %w", err)
	}
	r, w := tab.LookupFunc(goRead), tab.LookupFunc(goWrite)
	if r == nil || w == nil {
		return read, write, errNoTLS
	}
	return span{r.Entry, r.End}, span{w.Entry, w.End}, nil
}

// textStart is the address function entries in the pclntab are relative
// to: the one the table records (Go 1.18 and later), else .text's.
func textStart(f *elf.File, pcln []byte) uint64 {
	if len(pcln) >= 32 && pcln[7] == 8 {
		switch binary.LittleEndian.Uint32(pcln) {
		case 0xfffffff0, 0xfffffff1: // Go 1.18, 1.20 and later
			if t := binary.LittleEndian.Uint64(pcln[24:]); t != 0 {
				return t
			}
		}
	}
	if t := f.Section(".text"); t != nil {
		return t.Addr
	}
	return 0
}

// vaBytes reads the file bytes of virtual addresses [lo, hi).
func vaBytes(f *elf.File, lo, hi uint64) ([]byte, error) {
	if hi <= lo || hi-lo > 1<<20 {
		return nil, fmt.Errorf("function of %d bytes", hi-lo)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Vaddr <= lo && hi <= p.Vaddr+p.Filesz {
			b := make([]byte, hi-lo)
			if _, err := p.ReadAt(b, int64(lo-p.Vaddr)); err != nil {
				return nil, err
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("address %#x not in a loaded segment", lo)
}

// fileOffset converts a virtual address to its offset in the file, as a
// uprobe wants it.
func fileOffset(f *elf.File, va uint64) (uint64, error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && p.Vaddr <= va && va < p.Vaddr+p.Memsz {
			return va - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("address %#x not in an executable segment", va)
}

// retOffsets disassembles amd64 code and returns the offsets of its RET
// instructions. Bytes that do not decode (padding after the function) end
// the walk.
func retOffsets(code []byte) ([]uint64, error) {
	var out []uint64
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			if off == 0 {
				return nil, fmt.Errorf("disassemble: %w", err)
			}
			break
		}
		if in.Op == x86asm.RET {
			out = append(out, uint64(off))
		}
		off += in.Len
	}
	return out, nil
}

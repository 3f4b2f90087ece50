package uprobe

import (
	"bytes"
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

// symFuncs finds the functions in the symbol table. It walks the raw
// entries instead of elf.File.Symbols, which makes a string of every one
// of a Go program's tens of thousands of names: a new program is probed
// as it starts, and this is most of the time that takes.
func symFuncs(f *elf.File) (read, write span, err error) {
	sym := f.SectionByType(elf.SHT_SYMTAB)
	if sym == nil || f.Class != elf.ELFCLASS64 || int(sym.Link) >= len(f.Sections) {
		return read, write, elf.ErrNoSymbols
	}
	data, err := sym.Data()
	if err != nil {
		return read, write, err
	}
	str, err := f.Sections[sym.Link].Data()
	if err != nil {
		return read, write, err
	}
	const entry = 24 // Elf64_Sym
	le := binary.LittleEndian
	for i := entry; i+entry <= len(data); i += entry {
		name := le.Uint32(data[i:])
		if int(name) >= len(str) {
			continue
		}
		n := str[name:]
		if j := bytes.IndexByte(n, 0); j >= 0 {
			n = n[:j]
		}
		var sp *span
		switch string(n) { // no allocation: a comparison
		case goRead:
			sp = &read
		case goWrite:
			sp = &write
		default:
			continue
		}
		v := le.Uint64(data[i+8:])
		*sp = span{v, v + le.Uint64(data[i+16:])}
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
	if read, write, ok := pclnScan(data, textStart(f, data)); ok {
		if read.lo == 0 || write.lo == 0 {
			return read, write, errNoTLS
		}
		return read, write, nil
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

// pclnScan finds the functions in a Go 1.18+ pclntab by walking its
// function table (entry offset from text, _func offset pairs; a _func
// starts with its entry offset and the offset of its name), without building every
// function as gosym does: tens of milliseconds less for a new program. ok
// is false for another layout (then gosym reads it).
func pclnScan(t []byte, text uint64) (read, write span, ok bool) {
	le := binary.LittleEndian
	if len(t) < 72 || t[7] != 8 {
		return read, write, false
	}
	switch le.Uint32(t) {
	case 0xfffffff0, 0xfffffff1:
	default:
		return read, write, false
	}
	nfunc := le.Uint64(t[8:])
	names, tab := le.Uint64(t[32:]), le.Uint64(t[64:])
	if tab >= uint64(len(t)) || names >= uint64(len(t)) || nfunc >= uint64(len(t)-int(tab))/8 {
		return read, write, false
	}
	ft := t[tab:]
	for i := uint64(0); i < nfunc; i++ {
		fo := uint64(le.Uint32(ft[i*8+4:]))
		if fo+8 > uint64(len(ft)) {
			return read, write, false
		}
		no := names + uint64(le.Uint32(ft[fo+4:]))
		if no >= uint64(len(t)) {
			return read, write, false
		}
		n := t[no:]
		if j := bytes.IndexByte(n, 0); j >= 0 {
			n = n[:j]
		}
		var sp *span
		switch string(n) {
		case goRead:
			sp = &read
		case goWrite:
			sp = &write
		default:
			continue
		}
		*sp = span{text + uint64(le.Uint32(ft[i*8:])), text + uint64(le.Uint32(ft[i*8+8:]))}
	}
	return read, write, true
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

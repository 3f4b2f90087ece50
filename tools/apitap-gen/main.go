// Command apitap-gen writes apitap's deterministic test captures: the small
// cases under testdata/pcaps, the demo capture, and large benchmark captures.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/apitap/apitap/internal/testgen/pcapgen"
)

const usage = `usage:
  apitap-gen cases -dir DIR          write every test capture and MANIFEST.json into DIR
  apitap-gen demo -o FILE            write the demo capture (realistic API traffic, some of it hostile)
  apitap-gen protoset -o FILE        write the protobuf descriptor set of the demo's gRPC services
  apitap-gen bench -o FILE -size N [-small]
                                     write at least N bytes (e.g. 1GB, 200MB, 64MiB) of keep-alive API
                                     traffic; -small keeps every transaction under 2 KB. Prints one
                                     JSON line: file, bytes, packets, connections, transactions.
  apitap-gen realistic -o FILE -size N [-specs DIR]
                                     write at least N bytes of production-shaped API traffic: the
                                     operations of the specs in DIR (testdata/specs), JSON bodies
                                     (median ~0.5 KB, p90 ~3 KB), gzip on about a third of the
                                     responses, personal data, JWTs of many users, keep-alive.
Output is byte-for-byte the same on every run.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	dir := fs.String("dir", "testdata/pcaps", "output directory (cases)")
	out := fs.String("o", "", "output file (demo, bench)")
	size := fs.String("size", "1GB", "bytes to write (bench)")
	small := fs.Bool("small", false, "small transactions only (bench)")
	specs := fs.String("specs", "testdata/specs", "OpenAPI specs the traffic follows (realistic)")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "cases":
		err = pcapgen.WriteCases(*dir)
	case "demo":
		if *out == "" {
			err = fmt.Errorf("demo: -o FILE is required")
			break
		}
		err = pcapgen.WriteFile(*out, pcapgen.Ethernet, &pcapgen.Encap{}, pcapgen.Demo())
	case "protoset":
		if *out == "" {
			err = fmt.Errorf("protoset: -o FILE is required")
			break
		}
		err = os.WriteFile(*out, pcapgen.ShopProtos(), 0o644)
	case "bench":
		if *out == "" {
			err = fmt.Errorf("bench: -o FILE is required")
			break
		}
		var n int64
		if n, err = parseSize(*size); err != nil {
			break
		}
		var f *os.File
		if f, err = os.Create(*out); err != nil {
			break
		}
		var res pcapgen.BenchResult
		res, err = pcapgen.Bench(f, n, *small)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			b, _ := json.Marshal(struct {
				File string `json:"file"`
				pcapgen.BenchResult
			}{*out, res})
			fmt.Println(string(b))
		}
	case "realistic":
		if *out == "" {
			err = fmt.Errorf("realistic: -o FILE is required")
			break
		}
		var n int64
		if n, err = parseSize(*size); err != nil {
			break
		}
		var f *os.File
		if f, err = os.Create(*out); err != nil {
			break
		}
		var res pcapgen.RealisticResult
		res, err = pcapgen.Realistic(f, n, *specs)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			b, _ := json.Marshal(struct {
				File string `json:"file"`
				pcapgen.RealisticResult
			}{*out, res})
			fmt.Println(string(b))
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apitap-gen:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("bad size %q", s)
			}
			return int64(n * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (use e.g. 1GB, 200MB, 64MiB)", s)
	}
	return n, nil
}

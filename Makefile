# apitap build, test and benchmark entry points. Run `make help`.
GO       ?= go
BIN      := bin
FUZZTIME ?= 10s
# Fuzz targets run by `make test` (briefly) and `make fuzz` (FUZZTIME each).
FUZZ_TARGETS := \
	./sensor/decode:FuzzDecode \
	./reassembly/http1:FuzzConn \
	./analyzer/redact:FuzzQuery \
	./sensor/capture:FuzzFile \
	./exporter/spool:FuzzSegment \
	./analyzer/discovery:FuzzSchema \
	./analyzer/discovery:FuzzTemplate \
	./analyzer/sensitive:FuzzScan \
	./analyzer/conformance:FuzzLoadSpec \
	./analyzer/attack:FuzzAnalyze

.PHONY: help build demo test unit fuzz vet bench bench-live bench-go generate clean

help:
	@echo "make demo      run apitap read on the embedded sample capture (testdata/demo/demo.pcap)"
	@echo "make test      vet, all tests, golden end-to-end tests and a short fuzz run per parser"
	@echo "make bench     throughput table: apitap vs the naive baseline on a generated 1 GB capture"
	@echo "make bench-live  live capture: tcpreplay onto a veth, apitap run vs apitap read (root, tcpreplay)"
	@echo "make bench-go  Go micro-benchmarks of the hot paths (ns/op, B/op, allocs/op)"
	@echo "make fuzz      fuzz every parser for FUZZTIME (default 10s; e.g. FUZZTIME=60s)"
	@echo "make generate  regenerate the eBPF objects (needs clang) and the test captures (deterministic)"
	@echo "make build     build bin/apitap"

# CGO_ENABLED=0: one static binary, and dropping capabilities works on every thread
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/apitap ./sensor/cmd/apitap

demo: build
	./$(BIN)/apitap read --sensor-id demo testdata/demo/demo.pcap

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./...
	@# the libpcap source and classic BPF filters (cgo, libpcap-dev)
	$(GO) test -count=1 -tags pcap ./sensor/capture/ ./sensor/

test: vet unit
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/apitap ./sensor/cmd/apitap
	$(GO) build -o $(BIN)/apitap-naive ./sensor/cmd/apitap-naive
	$(GO) build -o $(BIN)/apitap-gen ./sensor/cmd/apitap-gen
	$(GO) build -o $(BIN)/apitap-bench ./sensor/cmd/apitap-bench
	./$(BIN)/apitap-bench -apitap $(BIN)/apitap -naive $(BIN)/apitap-naive -gen $(BIN)/apitap-gen -size 1GB -small-size 256MB

bench-live:
	deploy/bench/live-replay.sh 200MB 2 64

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bpf: needs clang, llvm and libbpf-dev (only here: builds use the committed output)
generate:
	cd bpf && $(GO) generate ./...
	$(GO) run ./sensor/cmd/apitap-gen cases -dir testdata/pcaps
	$(GO) run ./sensor/cmd/apitap-gen demo -o testdata/demo/demo.pcap

clean:
	rm -rf $(BIN)

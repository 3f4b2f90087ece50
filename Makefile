# apitap build, test and benchmark entry points. Run `make help`.
GO       ?= go
BIN      := bin
# FUZZTIME: how long `make fuzz` runs each target (e.g. FUZZTIME=60s). Left
# empty, as `make test` does, each target runs a fixed number of inputs
# (about 5-10 s each here): go1.26's fuzzer can fail a duration-bounded run
# with a spurious "context deadline exceeded" at the deadline
# (golang/go#75804, fixed in go1.27); a count has no deadline to race.
FUZZTIME ?=
# Fuzz targets: package:function:inputs for make test.
FUZZ_TARGETS := \
	./sensor/decode:FuzzDecode:200000 \
	./reassembly/http1:FuzzConn:150000 \
	./reassembly/http1:FuzzLookupHeader:100000 \
	./reassembly:FuzzWorkerLoss:2000 \
	./analyzer/redact:FuzzQuery:200000 \
	./sensor/capture:FuzzFile:50000 \
	./sensor/capture:FuzzPcapReader:150000 \
	./exporter/spool:FuzzSegment:20000 \
	./exporter/ocsf:FuzzConvert:20000 \
	./exporter/syslog:FuzzMessage:15000 \
	./analyzer/discovery:FuzzSchema:100000 \
	./analyzer/discovery:FuzzTemplate:8000 \
	./analyzer/discovery:FuzzProbe:40000 \
	./analyzer/discovery:FuzzMergeSpec:1500 \
	./analyzer/discovery:FuzzTemplateSame:30000 \
	./analyzer/sensitive:FuzzScan:20000 \
	./analyzer/conformance:FuzzLoadSpec:1500 \
	./analyzer/attack:FuzzAnalyze:20000 \
	./analyzer/attack:FuzzDetectors:30000 \
	./analyzer/attack:FuzzParseRules:3000 \
	./analyzer/behavior:FuzzAnalyze:20000 \
	./analyzer/behavior:FuzzMassAssignedSame:40000 \
	./analyzer/behavior:FuzzMayNamePassword:50000 \
	./reassembly/tlshello:FuzzParse:50000 \
	./reassembly/tlsdecrypt:FuzzConn:30000 \
	./reassembly/tlsdecrypt:FuzzKeyLog:100000 \
	./sensor/uprobe:FuzzProc:100000 \
	./reassembly/websocket:FuzzFrames:100000 \
	./analyzer/graphql/gqlreq:FuzzExtract:40000 \
	./analyzer/graphql:FuzzNote:30000 \
	./analyzer/graphql:FuzzMayHaveErrors:30000 \
	./analyzer/identity:FuzzParseJWT:50000 \
	./analyzer/identity:FuzzParseAuth:50000 \
	./analyzer/identity:FuzzSessionCookie:50000 \
	./exporter/blocklist:FuzzOutputs:20000 \
	./analyzer/observation:FuzzDecode:200000 \
	./sensor/correlate:FuzzMarks:50000 \
	./reassembly/http2:FuzzConn:60000 \
	./reassembly/http2:FuzzHPACK:80000 \
	./reassembly/protomsg:FuzzWire:80000 \
	./reassembly/grpc:FuzzRender:40000

# VERSION: what `apitap version` and the image's labels say (make image)
VERSION  ?=

.PHONY: help build demo test unit fuzz vet bench bench-live bench-go bench-instructions generate clean image image-check

help:
	@echo "make demo      run apitap read on the embedded sample capture (testdata/demo/demo.pcap, with HTTP/2 and gRPC), then write bin/demo-report.html"
	@echo "make test      vet, all tests, golden end-to-end tests, deploy/ checks and a short fuzz run per parser"
	@echo "make bench     throughput table: apitap vs the naive baseline on generated captures (realistic API mix with analyzer shares and worker scaling, large, small)"
	@echo "make bench-live  live capture: tcpreplay onto a veth, apitap run vs apitap read (root, tcpreplay)"
	@echo "make bench-go  Go micro-benchmarks of the hot paths (ns/op, B/op, allocs/op)"
	@echo "make bench-instructions  instructions per transaction, pipeline vs all analyzers (valgrind; not moved by machine load)"
	@echo "make fuzz      fuzz every parser (a fixed number of inputs each, or FUZZTIME=60s per target)"
	@echo "make generate  regenerate the eBPF objects (needs clang) and the test captures (deterministic)"
	@echo "make build     build bin/apitap"
	@echo "make image     the OCI image (FROM scratch, static binary, CA certificates, user 65532) as bin/apitap-image.tar, with buildah; pulls nothing"
	@echo "make image-check  make image, then check its configuration and run apitap version from it"

# CGO_ENABLED=0: one static binary, and dropping capabilities works on every thread
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/apitap ./sensor/cmd/apitap

demo: build
	./$(BIN)/apitap read --sensor-id demo --proto-descriptors testdata/demo/shop.protoset testdata/demo/demo.pcap
	@./$(BIN)/apitap report --quiet --progress never --sensor-id demo --title "apitap demo" --spec testdata/demo/spec.yaml --proto-descriptors testdata/demo/shop.protoset -o $(BIN)/demo-report.html testdata/demo/demo.pcap

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	@# deploy/test is a module of its own (Kubernetes and Helm dependencies)
	cd deploy/test && $(GO) vet ./...
	@# apitap read works everywhere; live capture is Linux only (ErrNotSupported elsewhere)
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) build ./...

unit:
	$(GO) test -count=1 -timeout 25m ./...
	@# the pipeline's goroutines (workers, the merge, stage two's two steps)
	@# under the race detector (cgo)
	$(GO) test -race -count=1 -timeout 10m ./sensor/
	@# the libpcap source and classic BPF filters (cgo, libpcap-dev)
	@if [ -f /usr/include/pcap.h ] || [ -f /usr/include/pcap/pcap.h ]; then \
		echo "$(GO) test -count=1 -tags pcap ./sensor/capture/ ./sensor/"; \
		$(GO) test -count=1 -tags pcap ./sensor/capture/ ./sensor/; \
	else \
		echo "SKIP the libpcap source tests (-tags pcap): pcap.h not found; install libpcap-dev (Debian) or libpcap-devel to run them"; \
	fi
	@# the Kubernetes manifests, the Helm chart and the Dockerfile (docs/kubernetes.md);
	@# -count=1: go test does not notice changes to files outside the deploy/test module
	cd deploy/test && $(GO) test -count=1 ./...

test: vet unit
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; count=$${rest##*:}; \
		budget="$(FUZZTIME)"; [ -n "$$budget" ] || budget="$${count}x"; \
		echo "fuzz $$pkg $$name for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $$budget $$pkg; \
	done

bench:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/apitap ./sensor/cmd/apitap
	$(GO) build -o $(BIN)/apitap-naive ./tools/apitap-naive
	$(GO) build -o $(BIN)/apitap-gen ./tools/apitap-gen
	$(GO) build -o $(BIN)/apitap-bench ./tools/apitap-bench
	./$(BIN)/apitap-bench -apitap $(BIN)/apitap -naive $(BIN)/apitap-naive -gen $(BIN)/apitap-gen -realistic-size 512MB -size 1GB -small-size 256MB

bench-live:
	deploy/bench/live-replay.sh 200MB 2 64

bench-instructions: build
	$(GO) build -o $(BIN)/apitap-gen ./tools/apitap-gen
	$(GO) build -o $(BIN)/apitap-naive ./tools/apitap-naive
	deploy/bench/instructions.sh 32MB $(BIN)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bpf: needs clang, llvm and libbpf-dev (only here: builds use the committed output)
generate:
	cd bpf && $(GO) generate ./...
	$(GO) run ./tools/apitap-gen cases -dir testdata/pcaps
	$(GO) run ./tools/apitap-gen demo -o testdata/demo/demo.pcap
	$(GO) run ./tools/apitap-gen protoset -o testdata/demo/shop.protoset

# the OCI image, daemonless (buildah), from scratch: nothing is pulled
image:
	deploy/image/build.sh $(BIN)/apitap-image.tar "$(VERSION)"

image-check: image
	cd deploy/test && APITAP_IMAGE=$(CURDIR)/$(BIN)/apitap-image.tar $(GO) test -count=1 -run '^TestImage$$' -v ./...

clean:
	rm -rf $(BIN)

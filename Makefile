# Seshat's build entry points. `make test` is what CI runs (.ci/run).
GO        ?= go
FUZZTIME  ?= 10s
PKGS      := ./...

.PHONY: all build run test vet fuzz bench bench-micro clean

all: build

build:
	$(GO) build -o bin/seshat ./cmd/seshat

run:
	$(GO) run ./cmd/seshat serve

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# Every test, then a short run of every fuzz target (one target per
# invocation: that is how `go test -fuzz` works). -fuzzminimizetime bounds
# minimizing, which otherwise can outlast -fuzztime and end in PASS.
FUZZ_TARGETS := \
	./internal/query:FuzzParse \
	./internal/ingest:FuzzDecode \
	./internal/ingest:FuzzDetect \
	./internal/ingest/alphasoc:FuzzDecodeEvents \
	./internal/ingest/zeek:FuzzZeekTSV \
	./internal/ingest/zeek:FuzzZeekJSON \
	./internal/ingest/eve:FuzzEVE \
	./internal/sensor:FuzzDecodePacket \
	./internal/sensor:FuzzReadPcap \
	./internal/detect:FuzzParseFeeds

test: vet
	$(GO) test -count=1 $(PKGS)
	$(MAKE) fuzz

fuzz:
	@set -e; for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; fn=$${target##*:}; \
		echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	done

# Figures for README.md: the end-to-end benchmark against the real binary
# (upload rate, COPY ratio, RSS, query latency), then the micro benchmarks.
BENCH_SESSIONS ?= 10000000
bench: build
	$(GO) run ./cmd/seshat-bench -seshat bin/seshat -sessions $(BENCH_SESSIONS)
	$(MAKE) bench-micro

bench-micro:
	$(GO) test -run '^$$' -bench . -benchtime 20x ./internal/store/duckdb/ ./internal/app/

clean:
	rm -rf bin seshat-data

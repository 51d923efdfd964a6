# guestrpc — build, test, benchmark.
#
#   make test    everything: lint, unit tests with the race detector, fuzz
#                seeds, and the QEMU end-to-end suite (installs QEMU and a
#                kernel through apt when missing; required, never skipped:
#                any test that skips fails the run, see internal/testutil/noskip)
#   make bench   guestrpc-agent as its own process beside qemu-ga and
#                cross-process floors, interleaved (BENCHMARKS.md); installs
#                qemu-guest-agent through apt when missing.
#                BENCHFLAGS=-json for machines
#   make bench-micro  the in-process go test benchmarks beside their floors
#   make fuzz    run every fuzz target for FUZZTIME each (input minimisation
#                capped at 50 runs, so slow targets spend the time fuzzing)
#   make lint    gofmt, go vet, the arm64 build, go vet for darwin (which
#                builds every package and its tests there)

GO       ?= go
FUZZTIME ?= 30s

BENCHFLAGS ?=

.PHONY: test unit e2e-setup bench bench-setup bench-micro fuzz lint

test: lint e2e-setup
	GUESTRPC_E2E=1 $(GO) run ./internal/testutil/noskip -race -count=1 -timeout 40m ./...

unit:
	$(GO) test -race ./...

e2e-setup:
	bash scripts/qemu-setup.sh

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) build ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...

bench: bench-setup
	$(GO) run ./cmd/guestrpc-bench $(BENCHFLAGS)

# qemu-ga for the comparison column; when it cannot be installed the
# harness says so and skips that column.
bench-setup:
	@command -v qemu-ga >/dev/null 2>&1 || [ -x /usr/sbin/qemu-ga ] || { \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-guest-agent >/dev/null 2>&1 || \
	  { $$sudo apt-get update >/dev/null 2>&1 && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-guest-agent >/dev/null 2>&1; } || \
	  echo "bench: could not install qemu-guest-agent; the qemu-ga column will be skipped"; }

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./rpc/ ./process/ ./files/

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg || exit 1; \
	  done; \
	done

# guestrpc — build, test, benchmark.
#
#   make test    everything: lint, unit tests with the race detector, fuzz
#                seeds, and the QEMU end-to-end suite (installs QEMU and a
#                kernel through apt when missing; required, never skipped:
#                any test that skips fails the run, see internal/testutil/noskip)
#   make bench   benchmarks beside their floors (raw sockets, os/exec)
#   make fuzz    run every fuzz target for FUZZTIME each
#   make lint    gofmt, go vet, cross-builds

GO       ?= go
FUZZTIME ?= 30s

.PHONY: test unit e2e-setup bench fuzz lint

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./rpc/ ./process/ ./files/

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

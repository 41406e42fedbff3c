.PHONY: build test bench fuzz fuzz-list run-emulator

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# How long each fuzz target runs: make fuzz FUZZTIME=1m
FUZZTIME ?= 10s

build:
	go build -ldflags "-X main.version=$(VERSION)" -o qwenrelay ./cmd/qwenrelay

test:
	go test -race ./...

# Load test: starts the emulator and the relay as child processes on loopback.
bench: build
	./qwenrelay bench --scenario all

# Lists every fuzz target in the repository as "package-dir target".
fuzz-list:
	@grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "$$(dirname "$$f") $$name"; \
		done; \
	done

# Runs every fuzz target found by fuzz-list, one after the other, each for
# FUZZTIME; stops at the first failure (the failing input is kept under
# the package's testdata/fuzz).
fuzz:
	@$(MAKE) --no-print-directory fuzz-list | while read -r dir name; do \
		echo "== $$dir $$name ($(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$dir" || exit 1; \
	done

# parley: two commands for a fresh Debian or Ubuntu machine.
#   make demo   install what is missing, build, and make a first call
#   make test   install what the tests need, and run every test (both tiers)
#   make test-fast  the fast tier alone: no sound server, browser or daemon

GO      ?= go
BIN     := bin/parley
# The C and C++ compilers and the libraries parley links (cgo; the C++ one
# for the shim over WebRTC's audio processing), and the sound server it
# talks to.
RUN_PKGS  := gcc g++ libc6-dev libopus-dev libopusfile-dev portaudio19-dev libasound2-dev libspeexdsp-dev libwebrtc-audio-processing-dev pkg-config pulseaudio pulseaudio-utils libasound2-plugins
# What the fast tier uses besides: sox and espeak-ng, whose WAV files the
# audio package's decoder is tested on.
FAST_PKGS := $(RUN_PKGS) sox espeak-ng
# What the e2e tier uses besides: tmux for the UI test, a NATS server, coturn,
# baresip (with its Opus and ALSA modules) for the benchmark harness's short run,
# Chromium for the guest call page.
TEST_PKGS := $(FAST_PKGS) tmux nats-server coturn baresip-core chromium
# What `make bench` uses besides: perf, to see where the clients' CPU goes,
# and GNU time, for the peak memory of short commands.
BENCH_PKGS := $(TEST_PKGS) linux-perf time

.PHONY: demo test test-fast test-e2e bench build client deps test-deps bench-deps sound clean

# apt-install installs the packages of $(1) that are missing (with sudo when
# not root).
define apt-install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt-install,$(RUN_PKGS))

test-deps:
	$(call apt-install,$(TEST_PKGS))

bench-deps:
	$(call apt-install,$(BENCH_PKGS))

build: deps
	$(GO) build -o $(BIN) .

# client builds the client alone, without the signaling server (its NATS,
# JetStream and TURN): 13 MB less program, and as much less memory in every
# call. Its serve and demo commands say they need the full build.
client: deps
	$(GO) build -tags client -o bin/client/parley .

# sound starts a PulseAudio daemon when no sound server runs (a machine
# without a desktop session), so that the default devices exist.
sound:
	@if ! pactl info >/dev/null 2>&1; then \
		echo "no sound server runs: starting PulseAudio"; \
		pulseaudio -D -n --exit-idle-time=-1 --disallow-exit \
			--load=module-native-protocol-unix 2>/dev/null; \
		for i in 1 2 3 4 5 6 7 8 9 10; do pactl info >/dev/null 2>&1 && break; sleep 0.2; done; \
	fi
	@if [ -z "$$(pactl list short sinks)" ]; then \
		echo "the sound server has no devices: adding a virtual speaker and microphone"; \
		pactl load-module module-null-sink sink_name=speaker >/dev/null; \
		pactl load-module module-null-sink sink_name=microphone >/dev/null; \
		pactl set-default-sink speaker; pactl set-default-source microphone.monitor; \
	fi

demo: build sound
	./$(BIN) demo

# The tests come in two tiers (the README's "Two commands" says which is
# which). The fast tier is plain `go test ./...`: every test file without a
# build tag, which needs no sound server, browser, tmux, NATS, coturn or
# baresip; its packages run in parallel. The e2e tier is the test files with
# a `//go:build e2e` line: the e2e/ folder (parley built and run as users
# do) and, beside the code they test, the tests of real devices, of the
# benchmark harness, and the longest runs (loss levels, load). Its packages
# run one at a time: several play and record real-time audio through
# PulseAudio, and on a two-core machine one package's race-detector tests
# would starve another's calls. Each runs only its e2e tests (those of the
# tagged files), not again the fast tier's beside them.
FAST_TIER = $(GO) test -race -timeout 15m ./...
define E2E_TIER
	@status=0; \
	for dir in $$(grep -rl --include='*_test.go' --exclude-dir=.git '^//go:build e2e' . | \
			xargs -n1 dirname | sort -u); do \
		tests=$$(grep -ho '^func Test[A-Za-z0-9_]*' $$(grep -l '^//go:build e2e' $$dir/*_test.go) | \
			sed 's/^func //' | paste -sd'|' -); \
		echo "$(GO) test -race -tags e2e -run '^($$tests)$$' $$dir"; \
		$(GO) test -race -tags e2e -timeout 30m -run "^($$tests)$$" $$dir || status=1; \
	done; \
	exit $$status
endef

test: test-deps
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	$(GO) vet -tags client . ./internal/cli
	$(FAST_TIER)
	$(E2E_TIER)
	# A short fuzz of the decoding of what clients send (the seeds ran above).
	$(GO) test -run '^$$' -fuzz FuzzDecodeClient -fuzztime 15s ./signaling

# test-fast runs the fast tier alone (about 2 minutes 40 s on two cores).
test-fast:
	$(call apt-install,$(FAST_PKGS))
	$(FAST_TIER)

# test-e2e runs the e2e tier alone (about 11 minutes).
test-e2e: test-deps
	$(E2E_TIER)

# bench measures parley beside baresip (latency over PulseAudio virtual
# devices, CPU, memory, call setup, server capacity, Go micro-benchmarks) and
# writes docs/BENCHMARKS.md and its plot. It takes about 20 minutes.
bench: bench-deps
	$(GO) run ./cmd/parleybench $(BENCH_ARGS)

# lint runs golangci-lint with .golangci.yml (line length, errcheck, revive,
# staticcheck, ...) on the full build, then on the client build's own files.
# The linter is built from the Go module proxy into bin/ the first time (two
# minutes); a new GOLANGCI_LINT_VERSION builds the new one. `make test` runs
# it first.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: lint
lint: deps $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...
	$(GOLANGCI_LINT) run --build-tags e2e ./...
	$(GOLANGCI_LINT) run --build-tags client . ./internal/cli

test: lint

$(GOLANGCI_LINT):
	GOBIN=$(CURDIR)/bin/.golangci-lint \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv bin/.golangci-lint/golangci-lint $@ && rmdir bin/.golangci-lint

clean:
	rm -rf bin

# ansar for Swift — the two set-up commands are `make demo` and `make test`; both install the
# system packages they need first. `make bench` measures every layer against raw C and the peers.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

SYSTEM_PACKAGES := liburing-dev libsodium-dev libssl-dev python3 iproute2 stress-ng
SWIFT_BUILD_FLAGS ?=

.PHONY: demo test downstream format lint bench bench-packages fuzz build system-packages clean simulate

# The Debian packages a recipe found missing (its shell's $$missing), installed as root, else named.
define install_missing
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ]; then \
    echo "installing$$missing"; \
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null || exit 1; \
  else \
    echo "missing system packages:$$missing — run: sudo apt-get install$$missing"; exit 1; \
  fi; \
fi
endef

## Installs liburing-dev, libsodium-dev and libssl-dev (libcrypto's AES-GCM for large records)
## when their headers are missing (apt-get as root),
## the system's /usr/bin/python3, which CLI tests use as a role that is not a shell and the
## local-socket tests run as another user (who cannot reach a per-user install), iproute2, whose `ip` makes
## the network namespaces the LAN/WAN tests use as hosts and whose `tc` shapes their links, and
## stress-ng, which loads both cores for the loaded-machine runs and benchmark row.
system-packages:
	@missing=""; \
	[ -f /usr/include/liburing.h ] || missing="$$missing liburing-dev"; \
	[ -f /usr/include/sodium.h ] || missing="$$missing libsodium-dev"; \
	[ -f /usr/include/openssl/evp.h ] || missing="$$missing libssl-dev"; \
	[ -x /usr/bin/python3 ] || missing="$$missing python3"; \
	command -v ip >/dev/null || [ -x /usr/sbin/ip ] || missing="$$missing iproute2"; \
	command -v stress-ng >/dev/null || missing="$$missing stress-ng"; \
	$(install_missing)

## What `make bench` needs beside them: the peers it measures ansar against (ZeroMQ's and NATS's C
## libraries, nats-server) and gnuplot for the plot in docs/benchmarks.md.
bench-packages: system-packages
	@missing=""; \
	[ -f /usr/include/zmq.h ] || missing="$$missing libzmq3-dev"; \
	[ -f /usr/include/nats/nats.h ] || missing="$$missing libnats-dev"; \
	[ -x /usr/sbin/nats-server ] || [ -x /usr/bin/nats-server ] || missing="$$missing nats-server"; \
	command -v gnuplot >/dev/null || missing="$$missing gnuplot-nox"; \
	$(install_missing)

build: system-packages
	swift build $(SWIFT_BUILD_FLAGS)

## The seed's demo: builds `ansar` and the two examples, makes a home in a temporary folder,
## deploys them, adds `pub` and `sub`, and runs the group until `sub` has its Welcome.
demo: system-packages
	swift build $(SWIFT_BUILD_FLAGS)
	@bin="$$(swift build --show-bin-path)"; demo="$$(mktemp -d /tmp/ansar-demo-XXXXXX)"; \
	mkdir "$$demo/dist" && cp "$$bin/publish-a-service" "$$bin/subscribe-to-service" "$$demo/dist/" && cd "$$demo" && \
	echo "+ ansar create" && "$$bin/ansar" create && \
	echo "+ ansar deploy dist" && "$$bin/ansar" deploy dist && \
	echo "+ ansar add publish-a-service pub" && "$$bin/ansar" add publish-a-service pub && \
	echo "+ ansar add subscribe-to-service sub" && "$$bin/ansar" add subscribe-to-service sub && \
	echo "+ ansar run --main-role=sub" && "$$bin/ansar" run --main-role=sub; \
	status=$$?; rm -rf "$$demo"; exit $$status

## Checks the formatting, builds and runs every test, on both reactor backends; then the
## downstream check.
test: system-packages lint
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS)
	$(MAKE) --no-print-directory downstream

## The deterministic simulator (Tests/Simulation; `make test` runs 200 seeds of each scenario, 20 of
## the heavy ones):
## `make simulate SEEDS=N` runs N seeds of each (FIRST=hex: the first seed), and
## `make simulate SEED=hex SCENARIO=start|faults|refill|stall|host|lan` replays one seed exactly, printing its events.
SEEDS ?= 1000
SIM_FILTER = $(or $(if $(filter start,$(SCENARIO)),startInAnyOrder),$(if $(filter faults,$(SCENARIO)),faultsThenHeal),$(if $(filter refill,$(SCENARIO)),refillOverCredit),$(if $(filter stall,$(SCENARIO)),stalls),$(if $(filter host,$(SCENARIO)),hostScope),$(if $(filter lan,$(SCENARIO)),lanScope),SimulationTests)
simulate: system-packages
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	ANSAR_SIM_SEEDS=$(SEEDS) ANSAR_SIM_SEED=$(SEED) ANSAR_SIM_FIRST=$(FIRST) ANSAR_SIM_VERBOSE=$(if $(SEED),1,) \
		swift test --skip-build $(SWIFT_BUILD_FLAGS) --filter '$(SIM_FILTER)'

## The toolchain's `swift format`, configured in .swift-format: `make format` rewrites the tree,
## `make lint` (part of `make test`) fails on any file it would change.
SWIFT_FILES = $(shell git ls-files '*.swift' 2>/dev/null || find . -name '*.swift' -not -path '*/.build*')
format:
	swift format -i --parallel $(SWIFT_FILES)
lint:
	@swift format lint --strict --parallel $(SWIFT_FILES) || { echo "unformatted code: run make format"; exit 1; }

## Downstream/ depends on ansar as a user's package would: README's tour must be its `tour`
## verbatim and run as typed, and `outside` exercises the API from outside.
downstream: system-packages
	@python3 -c 'import sys; t = open("Downstream/Sources/tour/main.swift").read(); sys.exit(0 if t in open("README.md").read() else "README'"'"'s tour and Downstream/Sources/tour/main.swift differ")'
	cd Downstream && swift build $(SWIFT_BUILD_FLAGS)
	@cd Downstream && bin="$$(swift build --show-bin-path)" && \
	out="$$("$$bin/tour")" && echo "$$out" | grep -q '^tour.Welcome' || { echo "README's tour printed: $$out"; exit 1; }; \
	out="$$("$$bin/outside" "no spaces")" && echo "$$out" | grep -q 'bigArrived: 262144' && echo "$$out" | grep -q 'welcome: "Buster to outside"' \
	  && echo "$$out" | grep -q 'holds' || { echo "Downstream outside printed: $$out"; exit 1; }; \
	echo "downstream: README's tour and the outside check pass"
	@python3 Downstream/readme/check-shell-tour.py

## Release build of Benchmarks/ (its own package): raw C baseline, ansar's layers and the peers,
## in one run; then the plot of the peers rows (docs/benchmarks-peers.svg).
bench: bench-packages
	swift build -c release --product ansar && swift build -c release --product publish-a-service && swift build -c release --product subscribe-to-service && swift build -c release --product link-node && swift build -c release --product pubsub-node
	cd Benchmarks && swift build -c release && cp "$$(swift build -c release --show-bin-path)/bench-node" ../.build/release/
	cd Benchmarks && "$$(swift build -c release --show-bin-path)/ansar-bench" --results ../.bench/results.jsonl
	python3 Benchmarks/plot.py .bench/results.jsonl docs/benchmarks-peers.svg
	@echo "simulated seeds per minute (debug build, one thread per scenario):"
	@$(MAKE) --no-print-directory simulate SEEDS=100 2>&1 | grep -a '^simulation '

## libFuzzer targets (Fuzz/, its own package) for the frame decoder and the handshake, each run
## for FUZZ_SECONDS from the corpus in Fuzz/Corpus; a crash fails the target.
FUZZ_SECONDS ?= 30
FUZZERS := FrameDecoder Handshake RelayTicket Beacon DirectoryMessage
fuzz: system-packages
	cd Fuzz && swift build -c debug -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -v "Cannot export local symbol"; exit $${PIPESTATUS[0]}
	@for name in $(FUZZERS); do \
	  work=$$(mktemp -d); \
	  echo "fuzzing $$name for $(FUZZ_SECONDS) s"; \
	  Fuzz/.build/debug/$${name}Fuzzer -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$$work/ $$work Fuzz/Corpus/$$name > $$work/log 2>&1; status=$$?; \
	  tail -n 3 $$work/log; \
	  if [ $$status != 0 ]; then echo "$$name fuzzer failed (exit $$status); input and log in $$work"; exit 1; fi; \
	  rm -rf $$work; \
	done

clean:
	rm -rf .build Benchmarks/.build Fuzz/.build Downstream/.build .bench

# Sigil — the two commands: `make run` and `make test`. Both install what they need (Debian packages) first.
SIGIL := .build/debug/sigil
# The toolchain's usual place on our machines; a swift already on PATH still comes first.
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: run test bench build deps down status unit format lint clean

## Build, start the local constellation (broker, PostgreSQL, five services), run the demo, leave it running.
run: deps build
	$(SIGIL) dev up --detach
	$(SIGIL) dev status
	$(SIGIL) demo
	@echo "The constellation keeps running. Stop it with: make down   (or $(SIGIL) dev down)"

## Lint, build, unit + integration tests (real PostgreSQL, mock Kafka broker), constellation end to end.
test:
	Tools/scripts/test.sh

## Release build; the edge beside nginx (cached path, cold flow, single flight, streaming, footprint) in one run.
bench:
	bench/run.sh

build:
	swift build

deps:
	Tools/scripts/install-deps.sh run

down:
	$(SIGIL) dev down

status:
	$(SIGIL) dev status

## Unit tests only: no broker, no database.
unit:
	swift test --filter SigilUnitTests

format:
	swift format format -i -r Package.swift Shared Services Tools Tests

lint:
	swift format lint --strict -r Package.swift Shared Services Tools Tests

clean:
	-$(SIGIL) dev down
	rm -rf .build .sigil

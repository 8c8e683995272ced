# The two set-up commands are `make run` and `make test`; everything they need is
# installed here on first use (Python virtual environments beside the code).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
PORT ?= 3000

export AWS_REGION ?= us-east-1
# Without these the AWS SDK may look for the EC2 instance metadata service.
export AWS_EC2_METADATA_DISABLED := true
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR ?= never

.PHONY: run test venv tools lint check unit e2e clean

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed

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

clean:
	cargo clean
	rm -rf $(VENV) $(TOOLS)

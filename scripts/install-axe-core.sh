#!/usr/bin/env bash
# axe-core (MPL-2.0) from the npm registry into PREFIX/node_modules/axe-core, which the
# browser tests' accessibility check injects into the page (tests/browser/conftest.py).
# Usage: install-axe-core.sh VERSION PREFIX
set -euo pipefail

usage="usage: $0 VERSION PREFIX"
version=${1:?$usage}
prefix=${2:?$usage}
npm install --silent --no-audit --no-fund --prefix "$prefix" "axe-core@$version"

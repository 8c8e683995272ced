#!/usr/bin/env bash
# Debian's chromium and a font for the browser tests' screenshots (`make browser-tools` runs
# this only when /usr/bin/chromium is missing): test tools' own browser downloads fail on
# machines that reach only the package registries. Through sudo unless run as root.
set -euo pipefail

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends chromium fonts-liberation

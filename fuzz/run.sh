#!/usr/bin/env bash
# Fuzz every harness for a bounded time (fuzz/run.py); non-zero exit on any finding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-.venv/bin/python}" -m fuzz.run "$@"

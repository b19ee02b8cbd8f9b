#!/usr/bin/env bash
# Every check that guards main: formatting, lints, all tests, the examples.
# Needs the Rust toolchain and CPython 3 with venv and pip (the Python package's tests,
# scripts/test-python.sh); run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
cargo run --quiet -p tfmm-core --example custom_rule
scripts/test-python.sh

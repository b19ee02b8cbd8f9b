#!/usr/bin/env bash
# Every check that guards main: formatting, lints, all tests, the examples.
# Needs only the Rust toolchain; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
cargo run --quiet -p tfmm-core --example custom_rule

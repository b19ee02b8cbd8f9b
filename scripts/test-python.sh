#!/usr/bin/env bash
# The Python package (crates/tfmm-py): builds the wheel, installs it into a virtual
# environment with the pinned test requirements, runs the pytest suite (including a sweep
# on a local Ray cluster) and the quickstart example.
#
# Needs the Rust toolchain and CPython >= 3.11 with venv and pip (the pinned numpy needs
# 3.11; the wheel itself runs on 3.9 and later). The environment lives in
# ${TFMM_VENV:-~/.cache/tfmm/venv} and is rebuilt only when requirements-dev.txt changes.
# The wheel is built with cargo's dev profile (optimised, see Cargo.toml) so that it reuses
# the build cache of `cargo test`; release wheels come from `pip install ./crates/tfmm-py`.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
venv="${TFMM_VENV:-$HOME/.cache/tfmm/venv}"
requirements=crates/tfmm-py/requirements-dev.txt
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "test-python: $("$python" --version 2>&1) found; the pinned test requirements need CPython >= 3.11 (set PYTHON=...)" >&2
    exit 1
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
# Ray: no usage reporting (there is no network to send it to), no start-up notices.
export RAY_USAGE_STATS_ENABLED=0 RAY_DISABLE_USAGE_STATS=1 RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=0

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
    echo "test-python: preparing $venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.requirements"
fi

# The CLI the tests compare against.
cargo build --quiet -p tfmm-cli

wheels="$(mktemp -d)"
scratch="$(mktemp -d)"
trap 'rm -rf "$wheels" "$scratch"' EXIT
"$venv/bin/maturin" build --profile dev --strip --quiet \
    --manifest-path crates/tfmm-py/Cargo.toml --interpreter "$venv/bin/python" --out "$wheels"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall \
    --no-deps "$wheels"/*.whl

# From the repository root `import tfmm` finds the installed wheel, not the sources.
TFMM_BIN="$target/debug/tfmm" TFMM_TEST_STRICT=1 \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider crates/tfmm-py/python/tests
"$venv/bin/python" examples/python/quickstart.py "$scratch/quickstart" >/dev/null
echo "test-python: quickstart example ran"

#!/usr/bin/env bash
# Runs the whole benchmark as docs/performance.md describes: builds in
# release mode and runs `polc-bench all` as root (the kernel measurements
# load and attach BPF programs). Arguments are passed on, e.g.
# `bench/run.sh --quick` or `bench/run.sh --reps 9`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# Under sudo, cargo may live in the invoking user's rustup installation.
if ! command -v cargo >/dev/null 2>&1; then
    for home in "$HOME" ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)"}; do
        if [ -x "$home/.cargo/bin/cargo" ]; then
            export PATH="$home/.cargo/bin:$PATH"
            export CARGO_HOME=${CARGO_HOME:-$home/.cargo}
            export RUSTUP_HOME=${RUSTUP_HOME:-$home/.rustup}
            break
        fi
    done
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh: run as root (sudo bench/run.sh): the kernel measurements load BPF programs" >&2
    exit 2
fi
exec cargo run --release --locked -p polc-bench -- all "$@"

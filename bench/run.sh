#!/usr/bin/env bash
# Runs the whole benchmark as docs/performance.md describes: builds in
# release mode and runs `polc-bench all` as root (the kernel measurements
# load and attach BPF programs). Arguments are passed on, e.g.
# `bench/run.sh --quick` or `bench/run.sh --reps 9`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# shellcheck source=scripts/cargo-env.sh
. "$repo/scripts/cargo-env.sh"
if [ "$(id -u)" -ne 0 ]; then
    echo "bench/run.sh: run as root (sudo bench/run.sh): the kernel measurements load BPF programs" >&2
    exit 2
fi
exec cargo run --release --locked -p polc-bench -- all "$@"

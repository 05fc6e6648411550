#!/usr/bin/env bash
# Build, on the host, what the VM scenarios load inside the guests, so every
# kernel gets the same files: today the harness self-check (an LSM program
# that denies exec of one test path, and a libbpf loader that attaches and
# pins it). Objects built by polc from the examples will join them here.
#
# Usage: tests/vm/prepare.sh OUTDIR   (then POLC_VM_ARTIFACTS=OUTDIR for the guests)
set -euo pipefail

[ "$#" -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"

for tool in clang cc; do
    command -v "$tool" >/dev/null 2>&1 || { echo "prepare: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done
[ -f /usr/include/bpf/libbpf.h ] || { echo "prepare: libbpf headers missing (libbpf-dev; run scripts/setup.sh)" >&2; exit 1; }

multiarch=$(cc -dumpmachine)
clang -O2 -g -target bpf -I"/usr/include/$multiarch" \
    -c "$here/selfcheck/deny_exec.bpf.c" -o "$out/deny_exec.bpf.o"
cc -O2 -Wall -Wextra -Werror "$here/selfcheck/lsm-pin.c" -lbpf -o "$out/lsm-pin"
echo "prepare: built $out/deny_exec.bpf.o $out/lsm-pin"

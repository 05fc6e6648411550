#!/usr/bin/env bash
# Build, on the host, what the VM scenarios load inside the guests, so every
# kernel gets the same files: the objects `polc build` writes for every
# example and for every test policy of tests/vm/policies/ (built once, here,
# on the host's kernel; each guest relocates them against its own BTF), and
# the bypass suite's policy (tests/bypass/bypass.pol, for the scenarios'
# directory and port), and the harness self-check (an LSM program that denies exec of one test path,
# and a libbpf loader that attaches and pins it).
#
# OUTDIR/SHA256SUMS lists the objects' digests; OUTDIR/objects.sha256 holds
# the digest of that list, which the guests recompute from the files they
# load (scenario objects-identical) and the driver compares across kernels.
#
# Usage: tests/vm/prepare.sh OUTDIR [BIN_DIR]
#   BIN_DIR  where polc is (default: $POLC_VM_BIN_DIR, else target/debug)
# Then POLC_VM_ARTIFACTS=OUTDIR for the guests.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    echo "usage: $0 OUTDIR [BIN_DIR]" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin_dir=${2:-${POLC_VM_BIN_DIR:-$repo/target/debug}}
polc=$bin_dir/polc

for tool in clang cc sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || { echo "prepare: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done
[ -f /usr/include/bpf/libbpf.h ] || { echo "prepare: libbpf headers missing (libbpf-dev; run scripts/setup.sh)" >&2; exit 1; }
[ -x "$polc" ] || { echo "prepare: $polc is missing (cargo build --workspace)" >&2; exit 1; }

mkdir -p "$out"
rm -rf "$out/objects"
mkdir "$out/objects"

multiarch=$(cc -dumpmachine)
clang -O2 -g -target bpf -I"/usr/include/$multiarch" \
    -c "$here/selfcheck/deny_exec.bpf.c" -o "$out/deny_exec.bpf.o"
cc -O2 -Wall -Wextra -Werror "$here/selfcheck/lsm-pin.c" -lbpf -o "$out/lsm-pin"

for source in "$repo"/examples/*.pol "$here"/policies/*.pol; do
    name=$(basename "$source" .pol)
    [ ! -e "$out/objects/$name.o" ] || { echo "prepare: two policies are named $name" >&2; exit 1; }
    "$polc" build "$source" -o "$out/objects/$name.o"
done
# The bypass suite's policy, for the directory and port its scenarios use
# (BYPASS_DIR and BYPASS_PORT in scenarios.sh).
sed -e 's|@DIR@|/tmp/polc-bypass/arena|g' -e 's|@PORT@|47011|g' \
    "$repo/tests/bypass/bypass.pol" >"$out/bypass.pol"
"$polc" build "$out/bypass.pol" -o "$out/objects/bypass.o"
(cd "$out/objects" && sha256sum -- *.o) >"$out/SHA256SUMS"
sha256sum <"$out/SHA256SUMS" | cut -d' ' -f1 >"$out/objects.sha256"

echo "prepare: built $(wc -l <"$out/SHA256SUMS") objects with $("$polc" --version) on $(uname -r), objects sha256 $(cat "$out/objects.sha256")"
echo "prepare: built the self-check $out/deny_exec.bpf.o $out/lsm-pin"

#!/usr/bin/env bash
# Boot one kernel under virtme-ng (software emulation, no KVM) and run SCRIPT
# inside it as root, once. The guest sees the host's filesystem read-only
# (with writable overlays on /tmp and a few others), so the repository and the
# cargo target directory are readable inside; tests/vm/guest.sh mounts the
# kernel filesystems the scenarios need before SCRIPT runs.
#
# Usage: tests/vm/run-in-vm.sh KERNEL_GLOB SCRIPT [ARGS...]
#   KERNEL_GLOB  e.g. '/boot/vmlinuz-6.12.*-amd64' (the newest match is used)
#   SCRIPT       an executable path (relative to the repository or absolute)
#
# Output: the guest's stdout and stderr on ours; SCRIPT's exit status is ours.
# Every host variable named POLC_* (and CARGO_TARGET_DIR) is passed into the
# guest; POLC_REPO is set to the repository root.
# Harness failures exit 125 (bad usage, missing tools or kernel, the guest did
# not boot within POLC_VM_BOOT_TIMEOUT seconds, default 300) or 124 (the whole
# run took longer than POLC_VM_TIMEOUT seconds, default 2400).
# Guest size: POLC_VM_CPUS (default 1: under emulation one vCPU boots faster
# than two, and leaves a host core for a second guest) and POLC_VM_MEMORY
# (default 1G). POLC_VM_APPEND, when set, is appended to the guest kernel's
# command line (e.g. POLC_VM_APPEND=lsm=capability,landlock,yama).
set -euo pipefail

die() {
    echo "run-in-vm: $*" >&2
    exit 125
}

[ "$#" -ge 2 ] || die "usage: $0 KERNEL_GLOB SCRIPT [ARGS...]"
kernel_glob=$1
script=$2
shift 2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case "$script" in
    /*) ;;
    *) script="$repo/$script" ;;
esac
[ -x "$script" ] || die "$script is not an executable file"

for tool in vng qemu-system-x86_64 setsid; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/setup.sh as root)"
done

shopt -s nullglob
# shellcheck disable=SC2206 # the glob must expand here
matches=($kernel_glob)
shopt -u nullglob
kernel=
if [ "${#matches[@]}" -gt 0 ]; then
    kernel=$(printf '%s\n' "${matches[@]}" | sort -V | tail -n 1)
fi
[ -n "$kernel" ] || die "no kernel matches $kernel_glob (run scripts/setup.sh as root)"
[ -r "$kernel" ] || die "$kernel is not readable by this user (run as root)"

# The command line the guest runs: environment, guest-side setup, SCRIPT.
guest_env=("POLC_REPO=$repo")
while IFS='=' read -r name _; do
    case "$name" in
        POLC_REPO) ;;
        POLC_* | CARGO_TARGET_DIR) guest_env+=("$name=${!name}") ;;
    esac
done < <(env)
guest_cmd=$(printf '%q ' env "${guest_env[@]}" "$repo/tests/vm/guest.sh" "$script" "$@")

boot_timeout=${POLC_VM_BOOT_TIMEOUT:-300}
run_timeout=${POLC_VM_TIMEOUT:-2400}
work=$(mktemp -d)
log=$work/stdout
pgid_file=$work/pgid
: >"$log"

# vng, its helpers and qemu run in a session of their own, so that a timeout or
# an interrupt can stop the whole tree at once.
vm_runner=
stop_vm() {
    if [ -s "$pgid_file" ]; then
        kill -TERM -- "-$(cat "$pgid_file")" 2>/dev/null || true
    fi
}
# shellcheck disable=SC2317 # invoked by the trap below
cleanup() {
    stop_vm
    if [ -n "$vm_runner" ]; then
        wait "$vm_runner" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "run-in-vm: interrupted" >&2; exit 130' INT TERM

append=()
if [ -n "${POLC_VM_APPEND:-}" ]; then
    append=(--append "$POLC_VM_APPEND")
fi

echo "run-in-vm: booting $kernel${POLC_VM_APPEND:+ with $POLC_VM_APPEND}" >&2
# vng reopens stderr with truncation: the pipe through cat keeps a caller's
# log file (2>file) intact.
(
    set -o pipefail
    sh -c 'echo $$ >"$0"; exec setsid "$@"' "$pgid_file" \
        vng --run "$kernel" --disable-microvm --disable-kvm --force-9p \
        --memory "${POLC_VM_MEMORY:-1G}" --cpus "${POLC_VM_CPUS:-1}" \
        "${append[@]}" \
        --cwd / --exec "$guest_cmd" \
        </dev/null 2> >(cat >&2) | tee "$log"
) &
vm_runner=$!

elapsed=0
booted=
while kill -0 "$vm_runner" 2>/dev/null; do
    if [ -z "$booted" ] && grep -q '^polc-vm: booted ' "$log"; then
        booted=yes
    fi
    if [ -z "$booted" ] && [ "$elapsed" -ge "$boot_timeout" ]; then
        stop_vm
        echo "run-in-vm: $kernel: the guest did not boot within ${boot_timeout}s (POLC_VM_BOOT_TIMEOUT)" >&2
        exit 125
    fi
    if [ "$elapsed" -ge "$run_timeout" ]; then
        stop_vm
        echo "run-in-vm: $kernel: timed out after ${run_timeout}s (POLC_VM_TIMEOUT)" >&2
        exit 124
    fi
    sleep 1
    elapsed=$((elapsed + 1))
done
rc=0
wait "$vm_runner" || rc=$?
vm_runner=

if ! grep -q '^polc-vm: booted ' "$log"; then
    echo "run-in-vm: $kernel: the guest did not boot or guest.sh did not start (vng exit status $rc)" >&2
    exit 125
fi
exit "$rc"

#!/usr/bin/env bash
# One setup for a fresh Debian 12 machine, used by README.md and .ci/run:
# packages, Python tools for the VM tests, and the kernel filesystems polrt and
# the kernel tests need. Idempotent: safe to run again.
set -euo pipefail

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: must run as root (installs packages, mounts tracefs/bpffs)" >&2
        exit 2
    fi
}
need_root

packages=(
    clang llvm libbpf-dev bpftool bpftrace
    qemu-system-x86 linux-image-6.12-amd64 linux-image-amd64 busybox-static
    python3-pip iproute2 hyperfine
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v vng >/dev/null 2>&1; then
    /usr/bin/python3 -m pip install -q --break-system-packages virtme-ng
fi

mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/security || mount -t securityfs none /sys/kernel/security || true

echo "setup: done"

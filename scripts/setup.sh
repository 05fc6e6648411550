#!/usr/bin/env bash
# One setup for a fresh Debian 12 machine, used by README.md and by
# scripts/test.sh (hence CI): packages, virtme-ng for the VM tests, the Rust
# components the checks use, and the kernel filesystems polrt and the kernel
# tests need. Idempotent: safe to run again; it installs only what is missing.
#
# Usage: scripts/setup.sh [--bench]
#   --bench  also installs what `polc-bench peers` compares polrt with: BCC
#            (bpfcc-tools, python3-bpfcc) and the kernel headers BCC compiles
#            against, for the two kernels the VM boots (linux-headers-<version>
#            of the 6.12 and the 6.1 image; the benchmark runs BCC in such a
#            guest). Opt-in: CI and scripts/test.sh do not pass it.
set -euo pipefail

bench=
for arg in "$@"; do
    case "$arg" in
        --bench) bench=yes ;;
        *)
            echo "setup: unknown argument $arg (usage: scripts/setup.sh [--bench])" >&2
            exit 2
            ;;
    esac
done

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: must run as root (installs packages, mounts tracefs/bpffs)" >&2
        exit 2
    fi
}
need_root

# Rust's linker (gcc, libc6-dev); BPF C toolchain for benchmarks and the VM
# self-check (clang, llvm, libbpf-dev, bpftool); qemu and the two kernels of
# the VM matrix (6.12 and Debian 12's 6.1); pip for virtme-ng; the module
# loaders (kmod) and the system Python the example scenarios run; Neovim,
# whose built-in LSP client tests `polc lsp` as an editor uses it;
# Prometheus, which scrapes `polrt run --metrics` in the metrics test;
# systemd for `systemd-analyze verify` of the unit and the journald that
# `polrt run --output journal` is tested against.
packages=(
    gcc libc6-dev git
    clang llvm libbpf-dev bpftool bpftrace
    qemu-system-x86 linux-image-6.12-amd64 linux-image-amd64 busybox-static
    python3-pip iproute2 hyperfine kmod python3 neovim
    prometheus systemd
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o Acquire::Retries=3 update -qq
    apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The downloaded packages are installed now: their archives only take disk.
    apt-get clean
fi

# The version the VM harness was verified with. System python on purpose:
# vng must not depend on a per-user Python installation.
virtme_ng_version=1.42
if ! command -v vng >/dev/null 2>&1; then
    echo "setup: installing virtme-ng $virtme_ng_version"
    /usr/bin/python3 -m pip install -q --no-cache-dir --break-system-packages "virtme-ng==$virtme_ng_version"
fi

for glob in '/boot/vmlinuz-6.12.*-amd64' '/boot/vmlinuz-6.1.0-*-amd64'; do
    # shellcheck disable=SC2086 # the glob must expand here
    if ! ls $glob >/dev/null 2>&1; then
        echo "setup: no kernel image matches $glob after installing packages" >&2
        exit 1
    fi
done

# --bench: BCC and the headers of the newest 6.12 and 6.1 kernel images (the
# ones tests/vm/run-in-vm.sh and `polc-bench peers --kernel` boot).
if [ -n "$bench" ]; then
    bench_versions=()
    for glob in '/boot/vmlinuz-6.12.*-amd64' '/boot/vmlinuz-6.1.0-*-amd64'; do
        # shellcheck disable=SC2086,SC2012 # the glob must expand; kernel versions have no odd characters
        image=$(ls $glob | sort -V | tail -n 1)
        bench_versions+=("${image#/boot/vmlinuz-}")
    done
    bench_missing=()
    for p in bpfcc-tools python3-bpfcc "${bench_versions[@]/#/linux-headers-}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || bench_missing+=("$p")
    done
    if [ "${#bench_missing[@]}" -gt 0 ]; then
        echo "setup: installing ${bench_missing[*]} (--bench)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o Acquire::Retries=3 update -qq
        apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends "${bench_missing[@]}" >/dev/null
        apt-get clean
    fi
    for version in "${bench_versions[@]}"; do
        if [ ! -e "/lib/modules/$version/build/include" ]; then
            echo "setup: /lib/modules/$version/build has no headers after installing linux-headers-$version" >&2
            exit 1
        fi
    done
fi

# rustfmt and clippy for the checks, when Rust comes from rustup.
if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup component list --installed 2>/dev/null || true)
    for component in rustfmt clippy; do
        grep -q "^$component" <<<"$installed" || rustup component add "$component"
    done
fi

mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mountpoint -q /sys/kernel/security || mount -t securityfs none /sys/kernel/security || true

echo "setup: done"

#!/usr/bin/env bash
# Runs inside the guest (started by run-in-vm.sh), as root: mounts the kernel
# filesystems that polrt and the scenarios need, announces the boot with one
# marker line (`polc-vm: booted ...`, which the host side looks for), then
# runs SCRIPT with ARGS from the repository root and exits with its status.
#
# Usage (inside the guest only): guest.sh SCRIPT [ARGS...]
set -euo pipefail

mount_if_absent() { # TYPE MOUNTPOINT
    mountpoint -q "$2" && return 0
    mkdir -p "$2"
    mount -t "$1" "$1" "$2"
}
mount_if_absent securityfs /sys/kernel/security
mount_if_absent tracefs /sys/kernel/tracing
mount_if_absent bpf /sys/fs/bpf
mount_if_absent cgroup2 /sys/fs/cgroup

echo "polc-vm: booted $(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)s lsm=$(cat /sys/kernel/security/lsm)"
cd "${POLC_REPO:?POLC_REPO is set by run-in-vm.sh}"
script=$1
shift
exec "$script" "$@"

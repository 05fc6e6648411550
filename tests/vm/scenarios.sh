#!/usr/bin/env bash
# The scenarios run inside each VM guest (by tests/vm.rs through run-in-vm.sh),
# as root, from the repository root. One shell function per scenario,
# `scenario_<name with - as _>`, listed in SCENARIOS in order; a scenario
# passes when its function exits 0 and fails with the last line it printed.
# Adding one: write the function, add its name here and in tests/vm.rs.
#
# Output protocol, parsed by tests/vm.rs (one line per scenario):
#   PASS <name>
#   FAIL <name>: <why>      (followed by the scenario's output, indented "  | ")
#   polc-vm: scenarios done (last line; exit status 0 only if all passed)
# There is no SKIP: a scenario that cannot run here fails.
#
# Usage: scenarios.sh [NAME...]   (default: all)
# Environment: POLC_VM_ARTIFACTS  directory written by tests/vm/prepare.sh
set -uo pipefail

SCENARIOS=(
    lsm-bpf-active
    btf-vmlinux
    bpffs-mount
    cgroup2-mount
    cgroup-move
    lsm-deny-exec
)

# Print why, then fail the scenario (scenarios run with set -e in a subshell).
fail() {
    echo "$*"
    exit 1
}

artifact() { # NAME -> path of a file built by prepare.sh
    local dir=${POLC_VM_ARTIFACTS:-}
    [ -n "$dir" ] || fail "POLC_VM_ARTIFACTS is not set (build the files with tests/vm/prepare.sh DIR)"
    [ -e "$dir/$1" ] || fail "$dir/$1 is missing (run tests/vm/prepare.sh $dir)"
    echo "$dir/$1"
}

json_number() { # KEY JSON -> the first number value of "KEY" in JSON
    grep -o "\"$1\":[0-9]*" <<<"$2" | head -n 1 | cut -d: -f2
}

fs_type() { # PATH -> filesystem type name as stat -f reports it
    stat -f -c %T "$1"
}

scenario_lsm_bpf_active() {
    local lsm
    lsm=$(cat /sys/kernel/security/lsm)
    echo "active LSMs: $lsm"
    case ",$lsm," in
        *,bpf,*) ;;
        *) fail "bpf is not among the active LSMs ($lsm)" ;;
    esac
}

scenario_btf_vmlinux() {
    [ -s /sys/kernel/btf/vmlinux ] || fail "/sys/kernel/btf/vmlinux is missing or empty"
    local types
    types=$(bpftool btf dump file /sys/kernel/btf/vmlinux format raw) || fail "bpftool cannot read the kernel BTF"
    grep -q "STRUCT 'linux_binprm'" <<<"$types" || fail "kernel BTF has no struct linux_binprm"
}

scenario_bpffs_mount() {
    [ "$(fs_type /sys/fs/bpf)" = bpf_fs ] || fail "/sys/fs/bpf is not a bpffs ($(fs_type /sys/fs/bpf))"
    local dir
    dir=$(mktemp -d)
    mount -t bpf bpf "$dir" || fail "mount -t bpf failed"
    local type
    type=$(fs_type "$dir")
    umount "$dir"
    rmdir "$dir"
    [ "$type" = bpf_fs ] || fail "a fresh bpffs mount reports type $type"
}

scenario_cgroup2_mount() {
    [ "$(fs_type /sys/fs/cgroup)" = cgroup2fs ] \
        || fail "/sys/fs/cgroup is not cgroup2 ($(fs_type /sys/fs/cgroup))"
    local dir
    dir=$(mktemp -d)
    mount -t cgroup2 none "$dir" || fail "mount -t cgroup2 failed"
    local ok=yes
    [ -e "$dir/cgroup.procs" ] || ok=
    umount "$dir"
    rmdir "$dir"
    [ -n "$ok" ] || fail "a fresh cgroup2 mount has no cgroup.procs"
}

scenario_cgroup_move() {
    local cg=/sys/fs/cgroup/polc-vm-test
    mkdir "$cg" || fail "cannot create $cg"
    sleep 60 &
    local pid=$!
    # shellcheck disable=SC2064 # expand now: the trap runs after locals are gone
    trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rmdir $cg" EXIT
    echo "$pid" >"$cg/cgroup.procs" || fail "cannot move pid $pid into $cg"
    local line
    line=$(cat "/proc/$pid/cgroup")
    [ "$line" = "0::/polc-vm-test" ] || fail "pid $pid is in '$line', not 0::/polc-vm-test"
    grep -qx "$pid" "$cg/cgroup.procs" || fail "$cg/cgroup.procs does not list pid $pid"
    echo "cgroup id of $cg: $(stat -c %i "$cg")"
}

# Exec PATH through env(1), which reports execve's errno faithfully (bash does
# not); print "<exit status> <error message or nothing>".
exec_outcome() {
    local msg rc=0
    msg=$(env "$1" 2>&1) || rc=$?
    echo "$rc ${msg##*: }"
}

scenario_lsm_deny_exec() {
    local obj loader
    obj=$(artifact deny_exec.bpf.o)
    loader=$(artifact lsm-pin)
    # Must match DENIED_PATH in tests/vm/selfcheck/deny_exec.bpf.c.
    local dir=/tmp/polc-vm-selfcheck
    local denied=$dir/denied allowed=$dir/allowed pin=/sys/fs/bpf/polc_vm_deny_exec
    mkdir -p "$dir"
    cp /bin/true "$denied"
    cp /bin/true "$allowed"
    # shellcheck disable=SC2064 # expand now: the trap runs after locals are gone
    trap "rm -f $pin; rm -rf $dir" EXIT

    [ "$(exec_outcome "$denied")" = "0 " ] || fail "$denied does not run before the program is attached"
    "$loader" "$obj" "$pin" || fail "loading or attaching the LSM program failed"
    local link_id prog_id
    link_id=$(json_number id "$(bpftool -j link show pinned "$pin")")
    prog_id=$(json_number prog_id "$(bpftool -j link show pinned "$pin")")
    [ -n "$link_id" ] && [ -n "$prog_id" ] || fail "bpftool does not show the pinned link"
    echo "attached: link $link_id, program $prog_id"

    local outcome
    outcome=$(exec_outcome "$denied")
    echo "exec $denied while attached: $outcome"
    [ "$outcome" = "126 Operation not permitted" ] \
        || fail "exec of $denied was not refused with EPERM (got: $outcome)"
    outcome=$(exec_outcome "$allowed")
    [ "$outcome" = "0 " ] || fail "exec of $allowed was refused too (got: $outcome)"

    rm "$pin"
    # Removing the last reference to the link detaches it and frees the
    # program; the kernel does both asynchronously.
    local tries=0
    while bpftool link show id "$link_id" >/dev/null 2>&1 || bpftool prog show id "$prog_id" >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 100 ] || fail "link $link_id or program $prog_id still exists after the pin was removed"
        sleep 0.1
    done
    outcome=$(exec_outcome "$denied")
    [ "$outcome" = "0 " ] || fail "exec of $denied still refused after detaching (got: $outcome)"
}

selected=("$@")
[ "${#selected[@]}" -gt 0 ] || selected=("${SCENARIOS[@]}")

failed=0
for name in "${selected[@]}"; do
    fn=scenario_${name//-/_}
    if ! declare -F "$fn" >/dev/null; then
        echo "FAIL $name: no such scenario"
        failed=$((failed + 1))
        continue
    fi
    out=$( (set -e; "$fn") 2>&1 )
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
    else
        why=$(printf '%s\n' "$out" | sed '/^[[:space:]]*$/d' | tail -n 1)
        echo "FAIL $name: ${why:-exit status $rc}"
        printf '%s\n' "$out" | sed 's/^/  | /'
        failed=$((failed + 1))
    fi
done
echo "polc-vm: scenarios done"
[ "$failed" -eq 0 ]

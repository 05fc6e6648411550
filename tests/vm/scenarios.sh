#!/usr/bin/env bash
# The scenarios run inside each VM guest (by tests/vm.rs through run-in-vm.sh),
# as root, from the repository root. One shell function per scenario,
# `scenario_<name with - as _>`, listed in SCENARIOS in order; a scenario
# passes when its function exits 0 and fails with the last line it printed.
# Adding one: write the function, add its name here and in tests/vm.rs.
#
# The product scenarios load the objects tests/vm/prepare.sh built on the
# host with `polc build` (the same files on every kernel) and run the host's
# polrt: `polrt verify` of every object, then one `polrt run --require-lsm`
# session scoped to a test cgroup (enforce-start ... enforce-stop: the
# scenarios between them act inside that cgroup and check the outcome and
# polrt's JSON events), then a `--monitor` session. Scenarios of a session
# share files under $WORK.
#
# Output protocol, parsed by tests/vm.rs (one line per scenario):
#   polc-vm: <record>       (a scenario's lines starting "polc-vm: " are
#                            passed through: results worth keeping, e.g.
#                            "polc-vm: objects <sha256>")
#   PASS <name>
#   FAIL <name>: <why>      (followed by the scenario's output, indented "  | ")
#   polc-vm: scenarios done (last line; exit status 0 only if all passed)
# There is no SKIP: a scenario that cannot run here fails.
#
# Usage: scenarios.sh [NAME...]   (default: SCENARIOS; the boot without BPF
#                                 LSM names its own, see tests/vm.rs)
# Environment (set by tests/vm.rs, passed in by run-in-vm.sh):
#   POLC_VM_ARTIFACTS  files built on the host by tests/vm/prepare.sh
#   POLC_VM_BIN_DIR    the cargo profile directory (target/debug) holding the
#                      workspace's binaries (polc, polrt)
#   POLC_REPO          the repository root (also the working directory)
set -uo pipefail

SCENARIOS=(
    host-files
    lsm-bpf-active
    btf-vmlinux
    bpffs-mount
    cgroup2-mount
    cgroup-move
    lsm-deny-exec
    objects-identical
    verify-all
    policy-tests
    enforce-start
    exec-deny
    exec-kill
    open-deny
    connect-deny
    connect-kill
    module-deny
    bind-deny
    bpf-deny
    allowed-ops
    guard-signal
    guard-trace
    guard-bpf
    guard-pins
    enforce-persist
    enforce-stop
    monitor
    reload
    reload-lists
    bypass-start
    bypass
    bypass-stop
    hooks-start
    hooks-files
    hooks-memory
    hooks-process
    hooks-system
    hooks-network
    hooks-stop
    containers
    process-context
    policies-lsm-order
)

# Scratch files of the product scenarios; tests/vm/policies/lsm_enforce.pol
# names some of these paths and the ports below.
WORK=/tmp/polc-vm
# The test cgroup every polrt session is scoped to.
CGROUP=/sys/fs/cgroup/polc-vm-lsm
DENIED_PORT=47001
ALLOWED_PORT=47002
KILLED_PORT=47003
BIND_DENIED_PORT=47004
# The reload scenario: its port and how many versions replace the first.
RELOAD_PORT=47005
RELOADS=3
# The list-file reload scenario's port (in the list) and one never listed.
LIST_PORT=47006
UNLISTED_PORT=47007
# The process-context scenario's port (nothing listens there).
CONTEXT_PORT=47008
# The name the enforcement session persists under (polrt run --persist).
PERSIST_NAME=polc-vm
PINS=/sys/fs/bpf/polc/$PERSIST_NAME
# The LSM guards every object carries (compiler/src/codegen/guard.rs).
GUARD_PROGRAMS=9
# The policy's LSM program names as the kernel lists them (15 characters).
PROGRAM_NAMES=(exec_lsm file_open_lsm net_connect_lsm net_bind_lsm module_load_lsm bpf_lsm)
# The bypass suite (tests/bypass/): its arena and port, which prepare.sh
# wrote into the bypass object's policy.
BYPASS_DIR=/tmp/polc-bypass/arena
BYPASS_PORT=47011
# The hook scenarios (tests/vm/policies/lsm_hooks.pol names these).
HOOKS_DIR=$WORK/hooks
HOOKS_LISTEN_PORT=47021
HOOKS_ACCEPT_PORT=47022
# Seconds one operation may take (timeout(1) exits 124 past it).
HOOKS_OP_TIMEOUT=120
HOOKS_NEW=(file.unlink file.rename file.link file.symlink file.mkdir file.rmdir file.chmod
    file.chown file.truncate file.mmap proc.ptrace proc.setuid proc.setgid proc.capset
    proc.signal proc.namespace mount umount module.request net.listen net.accept socket.create)
# Seconds to wait for polrt to be ready, for an event, for a detach.
READY_TIMEOUT=180
EVENT_TIMEOUT=20
STOP_TIMEOUT=60

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

bin() { # NAME -> path of a workspace binary
    local dir=${POLC_VM_BIN_DIR:-}
    [ -n "$dir" ] || fail "POLC_VM_BIN_DIR is not set"
    [ -x "$dir/$1" ] || fail "$dir/$1 is missing (cargo build --workspace)"
    echo "$dir/$1"
}

ops() { # tests/vm/ops.py OP ARGS...
    /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" "$@"
}

in_cgroup() { # COMMAND ARGS...: run COMMAND as a member of $CGROUP
    sh -c 'echo 0 >"$0/cgroup.procs" && exec "$@"' "$CGROUP" "$@"
}

# Exec PATH [ARGS] through env(1) inside $CGROUP; env reports execve's errno
# faithfully (bash does not). Print "<exit status> <error message or nothing>".
exec_in_cgroup() {
    local msg rc=0
    msg=$(in_cgroup env "$@" 2>&1) || rc=$?
    echo "$rc ${msg##*: }"
}

# The files the product scenarios act on: copies of touch(1), which create
# the file they are given when (and only when) they run, files to open, and a
# file that is not a kernel module (the kernel rejects it if a load gets that
# far).
make_scratch_files() {
    mkdir -p "$WORK"
    local name
    for name in denied-touch killed-touch allowed-touch; do
        cp /usr/bin/touch "$WORK/$name"
    done
    echo "not to be read" >"$WORK/secret"
    echo "plain" >"$WORK/plain"
    : >"$WORK/audited"
    # Longer than an ELF header: init_module refuses shorter buffers with
    # ENOEXEC before it asks the LSM hooks.
    head -c 4096 /dev/zero >"$WORK/not-a-module.ko"
    rm -f "$WORK"/*.marker
    [ -d "$CGROUP" ] || mkdir "$CGROUP" || fail "cannot create $CGROUP"
}

# Start `polrt run` of the test policy in the background, scoped to $CGROUP
# (with EXTRA arguments, e.g. --require-lsm),
# JSON events to $WORK/SESSION.jsonl, status lines to $WORK/SESSION.err, its
# pid in $WORK/SESSION.pid and, once it exits, its exit status in
# $WORK/SESSION.rc; wait until it is ready.
start_polrt() { # SESSION [EXTRA polrt run ARGS...] (object: $POLRT_OBJECT)
    local session=$1
    shift
    local polrt obj
    polrt=$(bin polrt)
    # POLRT_POLICY: a policy file instead (a `.pol` polrt compiles itself).
    obj=${POLRT_POLICY:-$(artifact "objects/${POLRT_OBJECT:-lsm_enforce}.o")}
    rm -f "$WORK/$session".*
    local started=$SECONDS
    # set +e: the scenarios run with errexit, which would end this
    # subshell before it records a non-zero status.
    (
        set +e
        "$polrt" run "$obj" --cgroup "$CGROUP" --format json \
            --output "$WORK/$session.jsonl" "$@" </dev/null >/dev/null 2>"$WORK/$session.err" &
        echo $! >"$WORK/$session.pid"
        wait $!
        echo $? >"$WORK/$session.rc"
    ) </dev/null >/dev/null 2>&1 &
    local waited=0
    until grep -q '^polrt: ready' "$WORK/$session.err" 2>/dev/null; do
        if [ -e "$WORK/$session.rc" ]; then
            cat "$WORK/$session.err"
            fail "polrt run exited with status $(cat "$WORK/$session.rc") before it was ready"
        fi
        waited=$((waited + 1))
        [ "$waited" -lt $((READY_TIMEOUT * 10)) ] || fail "polrt run was not ready after ${READY_TIMEOUT}s"
        sleep 0.1
    done
    cat "$WORK/$session.err"
    echo "polc-vm: polrt run ($session) ready in $((SECONDS - started))s"
}

require_session() { # SESSION: fail unless its polrt is running
    if [ ! -e "$WORK/$1.pid" ] || [ -e "$WORK/$1.rc" ] || ! kill -0 "$(cat "$WORK/$1.pid")" 2>/dev/null; then
        fail "polrt run ($1) is not running (see the scenario that starts it)"
    fi
}

# Wait until SESSION's events include at least one matching every KEY=VALUE
# (see ops.py events), then print it.
await_event() { # SESSION KEY=VALUE...
    local session=$1
    shift
    local waited=0 count
    while :; do
        count=$(ops events "$WORK/$session.jsonl" "$@") || fail "cannot read $WORK/$session.jsonl"
        [ "$count" -eq 0 ] || break
        waited=$((waited + 1))
        if [ "$waited" -ge $((EVENT_TIMEOUT * 10)) ]; then
            cat "$WORK/$session.jsonl"
            fail "no event with $* within ${EVENT_TIMEOUT}s"
        fi
        sleep 0.1
    done
    echo "event: $*"
}

# Wait until SESSION's polrt has exited (its status is in SESSION.rc), or
# fail with WHY.
await_exit() { # SESSION WHY
    local waited=0
    until [ -e "$WORK/$1.rc" ]; do
        waited=$((waited + 1))
        [ "$waited" -lt $((STOP_TIMEOUT * 10)) ] || fail "$2"
        sleep 0.1
    done
}

# Wait until none of the program ids IDS is loaded (the kernel frees
# detached programs asynchronously).
await_programs_gone() { # IDS...
    local id tries
    for id in "$@"; do
        tries=0
        while bpftool prog show id "$id" >/dev/null 2>&1; do
            tries=$((tries + 1))
            [ "$tries" -lt 300 ] || fail "program $id is still loaded after polrt stopped"
            sleep 0.1
        done
    done
}

# SIGTERM polrt; it must exit 0 after detaching every program it attached,
# and none of them may stay in the kernel.
stop_polrt() { # SESSION
    local session=$1
    require_session "$session"
    local ids
    ids=$(ops backends "$WORK/$session.jsonl" | cut -d' ' -f3-) || fail "no backend records"
    [ -n "${ids// /}" ] || fail "polrt reported no program ids"
    kill -TERM "$(cat "$WORK/$session.pid")"
    await_exit "$session" "polrt run did not exit within ${STOP_TIMEOUT}s of SIGTERM"
    cat "$WORK/$session.err"
    local rc
    rc=$(cat "$WORK/$session.rc")
    [ "$rc" = 0 ] || fail "polrt run exited with status $rc after SIGTERM"
    grep -q '^polrt: stopped: [0-9]* programs detached' "$WORK/$session.err" \
        || fail "polrt did not report detaching its programs"
    grep -q '"type":"summary"' "$WORK/$session.jsonl" || fail "no summary record"
    # shellcheck disable=SC2086 # one id a word
    await_programs_gone $ids
    local listing name
    listing=$(bpftool -j prog show) || fail "bpftool prog show failed"
    for name in "${PROGRAM_NAMES[@]}"; do
        ! grep -q "\"name\":\"$name\"" <<<"$listing" || fail "a program named $name is still loaded"
    done
    echo "programs $ids: gone"
}

scenario_host_files() {
    [ -r "$POLC_REPO/Cargo.toml" ] || fail "the repository is not readable at $POLC_REPO"
    local bin_dir=${POLC_VM_BIN_DIR:-}
    [ -n "$bin_dir" ] || fail "POLC_VM_BIN_DIR is not set"
    [ -x "$bin_dir/polc" ] || fail "$bin_dir/polc is missing (cargo build --workspace)"
    local version
    version=$("$bin_dir/polc" --version) || fail "$bin_dir/polc does not run in the guest"
    echo "$version"
    case "$version" in
        polc\ *) ;;
        *) fail "polc --version printed '$version'" ;;
    esac
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
    if [ -z "$link_id" ] || [ -z "$prog_id" ]; then
        fail "bpftool does not show the pinned link"
    fi
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

scenario_objects_identical() {
    local dir
    dir=$(dirname "$(artifact SHA256SUMS)")
    local expected actual
    expected=$(cat "$(artifact objects.sha256)")
    (cd "$dir/objects" && sha256sum --check --strict "$dir/SHA256SUMS") \
        || fail "the objects differ from the ones the host built"
    actual=$(cd "$dir/objects" && sha256sum -- *.o | sha256sum | cut -d' ' -f1)
    [ "$actual" = "$expected" ] || fail "the objects' digest is $actual, the host's $expected"
    echo "polc-vm: objects $actual"
}

# Every object (examples and test policies) through this kernel's verifier,
# in one `polrt verify` (the kernel's BTF is read once): every program must
# pass, LSM programs included.
scenario_verify_all() {
    local polrt out rc=0
    polrt=$(bin polrt)
    local objects=("$(dirname "$(artifact SHA256SUMS)")"/objects/*.o)
    [ -e "${objects[0]}" ] || fail "no objects to verify"
    out=$("$polrt" verify "${objects[@]}" 2>&1) || rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || fail "polrt verify exited with status $rc"
    # One line per object: NAME PASSED REJECTED NOT_VERIFIABLE LSM_PASSED
    # ABSENT (programs whose attach target this kernel lacks and whose
    # backend runs without them, e.g. lsm/file_truncate before 6.2)
    local summary
    summary=$(awk '
        /^[^ ].*\.o:$/ { name = $0; sub(/:$/, "", name); n = split(name, parts, "/"); name = parts[n]; lsm[name] = 0 }
        / lsm\/.* passed$/ { lsm[name]++ }
        /^[0-9]+ passed, [0-9]+ rejected, [0-9]+ not verifiable here(, [0-9]+ absent from this kernel)?$/ { print name, $1, $3, $5, lsm[name], ($9 == "" ? 0 : $9) }
    ' <<<"$out")
    [ "$(wc -l <<<"$summary")" -eq "${#objects[@]}" ] \
        || fail "polrt verify reported $(wc -l <<<"$summary") objects of ${#objects[@]}"
    local name passed rejected unverifiable lsm absent
    while read -r name passed rejected unverifiable lsm absent; do
        [ "$rejected" -eq 0 ] || fail "$name: $rejected programs rejected"
        [ "$unverifiable" -eq 0 ] || fail "$name: $unverifiable programs not verifiable here"
        [ "$passed" -gt 0 ] || fail "$name: no program verified"
        [ "$lsm" -gt 0 ] || fail "$name: no LSM program verified"
        echo "polc-vm: verify $name: $passed programs passed ($lsm lsm), $absent absent from this kernel"
    done <<<"$summary"
}

# Every example's own `test` blocks through `polc test`: each event decided by
# the interpreter and by the compiled decision code run in this kernel with
# BPF_PROG_TEST_RUN, which must agree. The user and group names the
# examples compare with resolve through their fixture databases.
scenario_policy_tests() {
    local polc out rc=0 accounts=$POLC_REPO/examples/accounts
    polc=$(bin polc)
    out=$("$polc" test --format json --passwd "$accounts/passwd" --group "$accounts/group" \
        "$POLC_REPO"/examples/*.pol 2>&1) || rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || fail "polc test exited with status $rc"
    local total passed in_kernel
    total=$(grep -c '^{' <<<"$out" || true)
    passed=$(grep -c '"ok":true' <<<"$out" || true)
    in_kernel=$(grep -c '"kernel":{' <<<"$out" || true)
    [ "$total" -gt 0 ] || fail "polc test ran no test"
    [ "$passed" -eq "$total" ] || fail "$((total - passed)) of $total policy tests failed"
    [ "$in_kernel" -eq "$total" ] || fail "$((total - in_kernel)) of $total tests did not run in the kernel"
    echo "polc-vm: policy tests: $passed of $total passed on the interpreter and in this kernel"
}

scenario_enforce_start() {
    make_scratch_files
    "$(bin polrt)" stop "$PERSIST_NAME" >/dev/null 2>&1 || true
    start_polrt enforce --require-lsm "--persist=$PERSIST_NAME"
    local backends
    backends=$(ops backends "$WORK/enforce.jsonl")
    echo "$backends"
    local hook
    for hook in exec file.open net.connect net.bind module.load bpf; do
        grep -q "^$hook lsm [0-9]" <<<"$backends" || fail "hook $hook did not get the lsm backend"
    done
    ! grep -qv '^[^ ]* lsm ' <<<"$backends" || fail "a hook got another backend than lsm"
    echo "polc-vm: backends chosen by probing: $(cut -d' ' -f1,2 <<<"$backends" | tr ' ' '=' | paste -sd' ')"
    local guard
    guard=$(grep '"type":"guard"' "$WORK/enforce.jsonl") || fail "no guard record"
    echo "$guard"
    grep -q '"state":"on"' <<<"$guard" || fail "the guards are not on"
    [ "$(grep -o '"symbol":"polc_guard_' <<<"$guard" | wc -l)" -eq "$GUARD_PROGRAMS" ] \
        || fail "the guard record does not list $GUARD_PROGRAMS guard programs"
    [ -e "$PINS/links/exec_lsm" ] || fail "the session is not pinned under $PINS"
    echo "polc-vm: guards on ($GUARD_PROGRAMS lsm programs), pinned under $PINS"
}

scenario_exec_deny() {
    require_session enforce
    local outcome
    outcome=$(exec_in_cgroup "$WORK/denied-touch" "$WORK/exec-deny.marker")
    echo "exec of denied-touch: $outcome"
    [ "$outcome" = "126 Operation not permitted" ] || fail "exec was not refused with EPERM (got: $outcome)"
    [ ! -e "$WORK/exec-deny.marker" ] || fail "the denied program ran"
    await_event enforce rule=deny_exec hook=exec verdict=deny backend=lsm \
        "fields.exec.path=$WORK/denied-touch"
}

scenario_exec_kill() {
    require_session enforce
    local rc=0
    in_cgroup "$WORK/killed-touch" "$WORK/exec-kill.marker" || rc=$?
    echo "exec of killed-touch: exit status $rc"
    [ "$rc" -eq 137 ] || fail "the task was not killed by SIGKILL (exit status $rc, not 137)"
    [ ! -e "$WORK/exec-kill.marker" ] || fail "the killed program ran"
    await_event enforce rule=kill_exec hook=exec verdict=kill backend=lsm \
        "fields.exec.path=$WORK/killed-touch"
}

scenario_open_deny() {
    require_session enforce
    local msg rc=0
    msg=$(in_cgroup cat "$WORK/secret" 2>&1) || rc=$?
    echo "cat secret: exit status $rc: $msg"
    if [ "$rc" -eq 0 ] || [ "${msg##*: }" != "Operation not permitted" ]; then
        fail "open was not refused with EPERM (exit status $rc: $msg)"
    fi
    await_event enforce rule=deny_open hook=file.open verdict=deny backend=lsm \
        "fields.file.path=$WORK/secret" fields.proc.comm=cat
}

scenario_connect_deny() {
    require_session enforce
    local outcome
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect "$DENIED_PORT")
    echo "connect to 127.0.0.1:$DENIED_PORT: $outcome"
    [ "$outcome" = EPERM ] || fail "connect to port $DENIED_PORT was not refused with EPERM (got: $outcome)"
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect "$ALLOWED_PORT")
    echo "connect to 127.0.0.1:$ALLOWED_PORT: $outcome"
    [ "$outcome" = connected ] || fail "connect to port $ALLOWED_PORT failed too (got: $outcome)"
    await_event enforce rule=deny_connect hook=net.connect verdict=deny backend=lsm \
        fields.net.daddr=127.0.0.1 "fields.net.dport=$DENIED_PORT"
}

scenario_connect_kill() {
    require_session enforce
    local outcome rc=0
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect "$KILLED_PORT") || rc=$?
    echo "connect to 127.0.0.1:$KILLED_PORT: exit status $rc, printed '$outcome'"
    [ "$rc" -eq 137 ] || fail "the task was not killed by SIGKILL (exit status $rc, not 137)"
    [ -z "$outcome" ] || fail "the task went on after connect: $outcome"
    await_event enforce rule=kill_connect hook=net.connect verdict=kill backend=lsm \
        "fields.net.dport=$KILLED_PORT" fields.proc.comm=python3
}

# module.load through both LSM hooks: finit_module reads the file through
# kernel_read_file (READING_MODULE; module.path is the file's path),
# init_module hands over a buffer through kernel_load_data (LOADING_MODULE).
scenario_module_deny() {
    require_session enforce
    local ops_py=$POLC_REPO/tests/vm/ops.py outcome
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" finit_module "$WORK/not-a-module.ko")
    echo "finit_module: $outcome"
    [ "$outcome" = EPERM ] || fail "finit_module was not refused with EPERM (got: $outcome)"
    await_event enforce rule=deny_module hook=module.load verdict=deny backend=lsm \
        "fields.module.path=$WORK/not-a-module.ko"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" init_module "$WORK/not-a-module.ko")
    echo "init_module: $outcome"
    [ "$outcome" = EPERM ] || fail "init_module was not refused with EPERM (got: $outcome)"
    await_event enforce rule=deny_module hook=module.load verdict=deny backend=lsm \
        fields.module.path=
}

scenario_bind_deny() {
    require_session enforce
    local ops_py=$POLC_REPO/tests/vm/ops.py outcome
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" bind "$BIND_DENIED_PORT")
    echo "bind to 127.0.0.1:$BIND_DENIED_PORT: $outcome"
    [ "$outcome" = EPERM ] || fail "bind was not refused with EPERM (got: $outcome)"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" bind "$ALLOWED_PORT")
    [ "$outcome" = ok ] || fail "bind to port $ALLOWED_PORT failed too (got: $outcome)"
    await_event enforce rule=deny_bind hook=net.bind verdict=deny backend=lsm \
        fields.net.saddr=127.0.0.1 "fields.net.sport=$BIND_DENIED_PORT"
}

# bpf(2) from the test cgroup; polrt, which issues bpf() calls all the time,
# is exempt from its own rules.
scenario_bpf_deny() {
    require_session enforce
    local outcome
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" bpf_map_create)
    echo "bpf(BPF_MAP_CREATE): $outcome"
    [ "$outcome" = EPERM ] || fail "bpf(BPF_MAP_CREATE) was not refused with EPERM (got: $outcome)"
    await_event enforce rule=deny_bpf hook=bpf verdict=deny backend=lsm fields.bpf.cmd=0
}

# What no rule denies still works inside the cgroup, and outside it nothing is
# denied at all (the policy is scoped).
scenario_allowed_ops() {
    require_session enforce
    local outcome
    outcome=$(exec_in_cgroup "$WORK/allowed-touch" "$WORK/allowed.marker")
    [ "$outcome" = "0 " ] || fail "exec of allowed-touch failed (got: $outcome)"
    [ -e "$WORK/allowed.marker" ] || fail "allowed-touch did not run"
    in_cgroup cat "$WORK/plain" >/dev/null || fail "cat of an ordinary file failed"
    in_cgroup sh -c "echo written >$WORK/audited" || fail "writing $WORK/audited failed"
    await_event enforce rule=audit_open verdict=audit backend=lsm "fields.file.path=$WORK/audited"
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect "$ALLOWED_PORT")
    [ "$outcome" = connected ] || fail "connect to port $ALLOWED_PORT failed (got: $outcome)"
    echo "inside $CGROUP: exec, open, write (audited), connect all work"

    env "$WORK/denied-touch" "$WORK/outside.marker" || fail "exec outside the cgroup was refused"
    [ -e "$WORK/outside.marker" ] || fail "denied-touch did not run outside the cgroup"
    cat "$WORK/secret" >/dev/null || fail "open outside the cgroup was refused"
    outcome=$(ops connect "$DENIED_PORT")
    [ "$outcome" = connected ] || fail "connect outside the cgroup failed (got: $outcome)"
    outcome=$(ops finit_module "$WORK/not-a-module.ko")
    echo "finit_module outside the cgroup: $outcome"
    [ "$outcome" != EPERM ] || fail "finit_module outside the cgroup was refused with EPERM"
    outcome=$(ops bind "$BIND_DENIED_PORT")
    [ "$outcome" = ok ] || fail "bind outside the cgroup failed (got: $outcome)"
    outcome=$(ops bpf_map_create)
    [ "$outcome" = ok ] || fail "bpf(BPF_MAP_CREATE) outside the cgroup failed (got: $outcome)"
    echo "outside $CGROUP: nothing denied"
}

# The guards (tests in the cgroup, polrt outside it): no task in the policy's
# scope may signal or trace polrt, get its maps or programs, detach links, or
# unlink, rename or remove its pins; outside the scope everything works.
scenario_guard_signal() {
    require_session enforce
    local pid msg rc
    pid=$(cat "$WORK/enforce.pid")
    for signal in TERM KILL STOP; do
        rc=0
        msg=$(in_cgroup /bin/kill "-$signal" "$pid" 2>&1) || rc=$?
        echo "kill -$signal $pid from the cgroup: exit status $rc: $msg"
        [ "$rc" -ne 0 ] || fail "SIG$signal from the cgroup reached polrt"
        grep -q "Operation not permitted" <<<"$msg" || fail "SIG$signal was not refused with EPERM ($msg)"
    done
    in_cgroup /bin/kill -0 "$pid" || fail "signal 0 (an existence check) was refused"
    require_session enforce
    echo "polrt (pid $pid) refuses every signal from the cgroup"
}

scenario_guard_trace() {
    require_session enforce
    local pid msg rc=0
    pid=$(cat "$WORK/enforce.pid")
    msg=$(in_cgroup cat "/proc/$pid/environ" 2>&1 >/dev/null) || rc=$?
    echo "cat /proc/$pid/environ from the cgroup: exit status $rc: $msg"
    [ "$rc" -ne 0 ] || fail "a task in the cgroup read polrt's environment"
    cat "/proc/$pid/environ" >/dev/null || fail "reading polrt's environment outside the cgroup failed"
}

scenario_guard_bpf() {
    require_session enforce
    local polrt ids prog link outcome
    polrt=$(bin polrt)
    "$polrt" status "$PERSIST_NAME" --format json >"$WORK/status.json" || fail "polrt status failed outside the cgroup"
    ids=$(ops status_ids "$WORK/status.json" exec_lsm)
    read -r prog link <<<"$ids"
    [ -n "$link" ] && [ "$link" != None ] || fail "polrt status lists no link of exec_lsm ($ids)"
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" prog_fd "$prog")
    echo "BPF_PROG_GET_FD_BY_ID $prog from the cgroup: $outcome"
    [ "$outcome" = EPERM ] || fail "a task in the cgroup got an fd of polrt's program (got: $outcome)"
    [ "$(ops prog_fd "$prog")" = ok ] || fail "BPF_PROG_GET_FD_BY_ID outside the cgroup failed"
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" obj_get "$PINS/maps/polc_runtime")
    echo "BPF_OBJ_GET of a pinned map from the cgroup: $outcome"
    [ "$outcome" = EPERM ] || fail "a task in the cgroup got an fd of polrt's map (got: $outcome)"
    [ "$(ops obj_get "$PINS/maps/polc_runtime")" = ok ] || fail "BPF_OBJ_GET outside the cgroup failed"
    outcome=$(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" link_detach "$link")
    echo "BPF_LINK_DETACH of link $link from the cgroup: $outcome"
    [ "$outcome" = EPERM ] || fail "BPF_LINK_DETACH from the cgroup was not refused with EPERM (got: $outcome)"
}

scenario_guard_pins() {
    require_session enforce
    local msg rc
    for op in "rm $PINS/links/exec_lsm" "mv $PINS/links/exec_lsm $PINS/links/moved" \
        "mv $PINS $PINS-moved" "rmdir $PINS/maps" "umount /sys/fs/bpf"; do
        rc=0
        # shellcheck disable=SC2086 # the operation's words
        msg=$(in_cgroup $op 2>&1) || rc=$?
        echo "$op from the cgroup: exit status $rc: $msg"
        [ "$rc" -ne 0 ] || fail "$op succeeded from the cgroup"
    done
    grep -q "Operation not permitted" <<<"$(in_cgroup rm "$PINS/links/exec_lsm" 2>&1)" \
        || fail "unlinking a pin was not refused with EPERM"
    mountpoint -q /sys/fs/bpf || fail "bpffs was unmounted"
    [ -e "$PINS/links/exec_lsm" ] && [ -d "$PINS/maps" ] || fail "a pin or a directory is gone"
    local outcome
    outcome=$(exec_in_cgroup "$WORK/denied-touch" "$WORK/pins.marker")
    [ "$outcome" = "126 Operation not permitted" ] || fail "exec is no longer refused (got: $outcome)"
    require_session enforce
}

# Outside the cgroup, root may stop polrt (SIGKILL: nothing it can clean up);
# its pinned programs keep enforcing, and a new run adopts them and reads
# the events nobody read meanwhile.
scenario_enforce_persist() {
    require_session enforce
    kill -KILL "$(cat "$WORK/enforce.pid")"
    await_exit enforce "polrt did not die of SIGKILL"
    echo "polrt killed (status $(cat "$WORK/enforce.rc"))"
    local outcome
    outcome=$(exec_in_cgroup "$WORK/denied-touch" "$WORK/persist.marker")
    echo "exec of denied-touch with no polrt running: $outcome"
    [ "$outcome" = "126 Operation not permitted" ] || fail "the deny did not outlive polrt (got: $outcome)"
    "$(bin polrt)" status "$PERSIST_NAME" --format json >"$WORK/status.json" || fail "polrt status failed"
    grep -q '"reader_tgid":0' "$WORK/status.json" || fail "polrt status names a reader"
    start_polrt adopt --require-lsm "--persist=$PERSIST_NAME"
    grep -q "adopted \`$PERSIST_NAME\`" "$WORK/adopt.err" || fail "the new run did not adopt the pinned policy"
    await_event adopt rule=deny_exec verdict=deny backend=lsm "fields.exec.path=$WORK/denied-touch"
    echo "polc-vm: killed polrt with SIGKILL: the lsm programs kept enforcing; a new run adopted them"
}

# `polrt stop` (outside the cgroup) stops the adopting polrt, which exits 0
# with the summary of everything counted since the policy was pinned, and
# removes every pin: no program is left, and nothing is denied any more.
scenario_enforce_stop() {
    require_session adopt
    local polrt ids
    polrt=$(bin polrt)
    ids=$( (ops backends "$WORK/enforce.jsonl" | cut -d' ' -f3-; grep '"type":"guard"' "$WORK/enforce.jsonl" | grep -o '"id":[0-9]*' | cut -d: -f2) | tr '\n' ' ')
    [ -n "${ids// /}" ] || fail "no program ids"
    "$polrt" stop "$PERSIST_NAME" || fail "polrt stop failed"
    await_exit adopt "the adopting polrt did not exit"
    cat "$WORK/adopt.err"
    [ "$(cat "$WORK/adopt.rc")" = 0 ] || fail "the adopting polrt exited with status $(cat "$WORK/adopt.rc")"
    [ ! -e "$PINS" ] || fail "$PINS is still there"
    local rule
    for rule in deny_exec kill_exec deny_open audit_open deny_connect kill_connect deny_bind deny_bpf deny_module; do
        grep -q "{\"hook\":\"[a-z.]*\",\"matches\":[1-9][0-9]*,\"rule\":\"$rule\"}" "$WORK/adopt.jsonl" \
            || fail "the summary counts no match of $rule"
    done
    # shellcheck disable=SC2086 # one id a word
    await_programs_gone $ids
    echo "programs $ids: gone"
    local outcome
    outcome=$(exec_in_cgroup "$WORK/denied-touch" "$WORK/after.marker")
    [ "$outcome" = "0 " ] || fail "exec still refused after polrt stop (got: $outcome)"
}

# --monitor: every deny and kill is reported as would-deny/would-kill and
# nothing is enforced.
scenario_monitor() {
    make_scratch_files
    start_polrt monitor --require-lsm --monitor
    local ops_py=$POLC_REPO/tests/vm/ops.py outcome rc=0
    outcome=$(exec_in_cgroup "$WORK/denied-touch" "$WORK/monitor-deny.marker")
    [ "$outcome" = "0 " ] || fail "exec was not allowed (got: $outcome)"
    [ -e "$WORK/monitor-deny.marker" ] || fail "the program did not run"
    in_cgroup "$WORK/killed-touch" "$WORK/monitor-kill.marker" || rc=$?
    [ "$rc" -eq 0 ] || fail "the kill rule acted (exit status $rc)"
    [ -e "$WORK/monitor-kill.marker" ] || fail "the program of the kill rule did not run"
    in_cgroup cat "$WORK/secret" >/dev/null || fail "open was refused"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" connect "$DENIED_PORT")
    [ "$outcome" = connected ] || fail "connect to port $DENIED_PORT failed (got: $outcome)"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" connect "$KILLED_PORT")
    [ "$outcome" = connected ] || fail "connect to port $KILLED_PORT failed (got: $outcome)"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" finit_module "$WORK/not-a-module.ko")
    [ "$outcome" != EPERM ] || fail "finit_module was refused with EPERM"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" bind "$BIND_DENIED_PORT")
    [ "$outcome" = ok ] || fail "bind to port $BIND_DENIED_PORT failed (got: $outcome)"
    outcome=$(in_cgroup /usr/bin/python3 "$ops_py" bpf_map_create)
    [ "$outcome" = ok ] || fail "bpf(BPF_MAP_CREATE) failed (got: $outcome)"
    echo "monitor mode: exec, open, connect, finit_module, bind and bpf all went through"
    await_event monitor rule=deny_exec verdict=would-deny backend=lsm
    await_event monitor rule=kill_exec verdict=would-kill backend=lsm
    await_event monitor rule=deny_open verdict=would-deny backend=lsm
    await_event monitor rule=deny_connect verdict=would-deny backend=lsm
    await_event monitor rule=kill_connect verdict=would-kill backend=lsm
    await_event monitor rule=deny_module verdict=would-deny backend=lsm
    await_event monitor rule=deny_bind verdict=would-deny backend=lsm
    await_event monitor rule=deny_bpf verdict=would-deny backend=lsm
    [ "$(ops events "$WORK/monitor.jsonl" verdict=deny)" = 0 ] || fail "a deny verdict in monitor mode"
    [ "$(ops events "$WORK/monitor.jsonl" verdict=kill)" = 0 ] || fail "a kill verdict in monitor mode"
    stop_polrt monitor
}

# Hot reload on the LSM backend: a policy source denying connects to a
# port is replaced RELOADS times (a new file renamed over it) while a flood
# of connects to that port runs in the test cgroup; every connect is
# refused with EPERM, each version is reloaded onto the lsm backend, and
# its deny events carry the version's message.
scenario_reload() {
    make_scratch_files
    # Not named reload.*: start_polrt removes the session's files.
    local policy=$WORK/reloaded-policy.pol version
    reload_policy() { # VERSION
        printf 'rule block {\n    on net.connect\n    when net.dport == %s\n    deny "version %s"\n}\n' \
            "$RELOAD_PORT" "$1"
    }
    reload_policy 0 >"$policy"
    POLRT_POLICY=$policy start_polrt reload --require-lsm
    rm -f "$WORK/flood.stop"
    in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect_flood "$RELOAD_PORT" \
        "$WORK/flood.stop" >"$WORK/flood.out" 2>&1 &
    local flood=$! started=$SECONDS
    await_event reload rule=block verdict=deny backend=lsm "message=version 0"
    for version in $(seq 1 "$RELOADS"); do
        reload_policy "$version" >"$policy.tmp"
        mv "$policy.tmp" "$policy"
        local waited=0
        until [ "$(grep -c 'reload: policy `reloaded-policy` reloaded' "$WORK/reload.err")" -ge "$version" ]; do
            waited=$((waited + 1))
            [ "$waited" -lt $((READY_TIMEOUT * 10)) ] || fail "version $version was not reloaded"
            sleep 0.1
        done
        await_event reload rule=block verdict=deny backend=lsm "message=version $version"
    done
    touch "$WORK/flood.stop"
    wait "$flood" || fail "the flood failed: $(cat "$WORK/flood.out")"
    local outcomes
    outcomes=$(cat "$WORK/flood.out")
    echo "flood of connects during $RELOADS reloads: $outcomes"
    [[ "$outcomes" =~ ^EPERM=[1-9][0-9]*$ ]] \
        || fail "a connect was not refused with EPERM during the reloads: $outcomes"
    ! grep -q 'reload: policy `reloaded-policy` refused' "$WORK/reload.err" || fail "a reload was refused"
    local backends
    backends=$(ops backends "$WORK/reload.jsonl")
    ! grep -qv '^[^ ]* lsm ' <<<"$backends" || fail "a generation got another backend than lsm: $backends"
    stop_polrt reload
    echo "polc-vm: $RELOADS reloads on lsm in $((SECONDS - started))s under a flood: $outcomes"
}

# List files reloaded on the LSM backend: a policy denies connects to the
# ports of a list file; under a flood of connects to a listed port the file
# is replaced RELOADS times (entries added and removed around that port, a
# comment, one replacement with a bad line that is refused): every
# connect is refused with EPERM, no program is reloaded, and the port
# removed from the list is allowed at once.
scenario_reload_lists() {
    make_scratch_files
    local policy=$WORK/listed-policy.pol ports=$WORK/listed-ports.txt version
    printf 'list blocked = file "%s"

rule block {
    on net.connect
    when net.dport in blocked
    deny "listed port"
}
' \
        "$ports" >"$policy"
    printf '# blocked ports\n%s\n' "$LIST_PORT" >"$ports"
    POLRT_POLICY=$policy start_polrt lists --require-lsm
    local connect=(in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect)
    [ "$("${connect[@]}" "$UNLISTED_PORT")" = connected ] || fail "an unlisted port was not connected"
    rm -f "$WORK/flood.stop"
    in_cgroup /usr/bin/python3 "$POLC_REPO/tests/vm/ops.py" connect_flood "$LIST_PORT" \
        "$WORK/flood.stop" >"$WORK/flood.out" 2>&1 &
    local flood=$! started=$SECONDS
    await_event lists rule=block verdict=deny backend=lsm
    await_list_lines() { # COUNT PATTERN
        local waited=0
        until [ "$(grep -c "$2" "$WORK/lists.err")" -ge "$1" ]; do
            waited=$((waited + 1))
            [ "$waited" -lt $((READY_TIMEOUT * 10)) ] || fail "no $1 list lines matching $2: $(cat "$WORK/lists.err")"
            sleep 0.1
        done
    }
    for version in $(seq 1 "$RELOADS"); do
        printf '# version %s\n%s\n%s\n' "$version" "$((LIST_PORT + 1000 + version))" "$LIST_PORT" >"$ports.tmp"
        mv "$ports.tmp" "$ports"
        await_list_lines "$version" 'list `blocked` of policy `listed-policy`: .* read again'
    done
    printf '%s\nnot-a-port\n' "$LIST_PORT" >"$ports.tmp"
    mv "$ports.tmp" "$ports"
    await_list_lines 1 'list `blocked` of policy `listed-policy`: .* refused, the old entries stay enforced'
    touch "$WORK/flood.stop"
    wait "$flood" || fail "the flood failed: $(cat "$WORK/flood.out")"
    local outcomes
    outcomes=$(cat "$WORK/flood.out")
    echo "flood of connects during $RELOADS list reloads and a refused one: $outcomes"
    [[ "$outcomes" =~ ^EPERM=[1-9][0-9]*$ ]] \
        || fail "a connect was not refused with EPERM during the list reloads: $outcomes"
    ! grep -q '^polrt: reload: ' "$WORK/lists.err" || fail "a program was reloaded for a list file"
    # The port removed from the list: allowed as soon as the file is read.
    printf '%s\n' "$UNLISTED_PORT" >"$ports.tmp"
    mv "$ports.tmp" "$ports"
    await_list_lines "$((RELOADS + 1))" 'list `blocked` of policy `listed-policy`: .* read again'
    [ "$("${connect[@]}" "$LIST_PORT")" = connected ] || fail "the port removed from the list was not allowed"
    [ "$("${connect[@]}" "$UNLISTED_PORT")" = EPERM ] || fail "the port added to the list was not refused"
    stop_polrt lists
    echo "polc-vm: $RELOADS list-file reloads and a refused one on lsm in $((SECONDS - started))s under a flood: $outcomes"
}

# The bypass suite with BPF LSM: every technique of tests/bypass/bypass.py
# against its policy, inside the test cgroup; each must be refused with
# EPERM (the dynamic loader gives up when mapping the program fails) and
# reported with what the kernel resolved.
scenario_bypass_start() {
    make_scratch_files
    local root
    root=$(dirname "$BYPASS_DIR")
    umount "$root" 2>/dev/null || true
    rm -rf "$root"
    mkdir -p "$root"
    # A file system of its own that supports file handles
    # (open_by_handle_at); the guest's /tmp is an overlay that does not.
    mount -t tmpfs polc-bypass "$root" || fail "cannot mount a tmpfs on $root"
    /usr/bin/python3 "$POLC_REPO/tests/bypass/bypass.py" setup "$BYPASS_DIR" \
        || fail "bypass.py setup failed"
    # With a second policy (tests/vm/policies/bypass_companion.pol), as a
    # node runs several: the bypass policy's LSM hooks then run its
    # reporting and refusing programs, which must refuse and report every
    # technique as its whole programs do (the other scenarios run those).
    POLRT_OBJECT=bypass start_polrt bypass "$(artifact objects/bypass_companion.o)"
    grep -q "^polrt: note: several policies: on the lsm backend of .*file.open" "$WORK/bypass.err" \
        || fail "the bypass policy does not run reporting and refusing programs on its lsm hooks"
}

scenario_bypass() {
    require_session bypass
    local py=$POLC_REPO/tests/bypass/bypass.py
    in_cgroup /usr/bin/python3 "$py" run "$BYPASS_DIR" "$BYPASS_PORT" >"$WORK/bypass.out" \
        || fail "bypass.py run failed"
    # Events reach the output within a poll interval.
    sleep 2
    /usr/bin/python3 "$py" check-lsm "$BYPASS_DIR" "$BYPASS_PORT" "$WORK/bypass.out" "$WORK/bypass.jsonl" \
        || fail "a bypass technique was not refused and reported"
    echo "polc-vm: bypass: $(wc -l <"$WORK/bypass.out") techniques refused and reported"
}

scenario_bypass_stop() {
    stop_polrt bypass
    umount "$(dirname "$BYPASS_DIR")" || fail "cannot unmount the bypass arena"
}

# The hooks on files, executable memory, processes, mounts, module requests
# and sockets through BPF LSM: one `polrt run` session of
# tests/vm/policies/lsm_hooks.pol (every hook but proc.namespace must get
# lsm; proc.namespace has no LSM hook and gets tp_btf), the operations of
# tests/vm/hooks.py inside the test cgroup refused with EPERM (or killed:
# status 137), their events reported by backend lsm with the values the
# kernel resolved.
hooks_op() { # OP ARGS...: tests/vm/hooks.py inside $CGROUP; prints "STATUS OUTCOME"
    local outcome rc=0
    outcome=$(in_cgroup timeout "$HOOKS_OP_TIMEOUT" /usr/bin/python3 "$POLC_REPO/tests/vm/hooks.py" "$@") || rc=$?
    echo "$rc $outcome"
}

expect_op() { # EXPECTED OP ARGS...: fail unless hooks_op prints EXPECTED
    local expected=$1
    shift
    local got
    got=$(hooks_op "$@")
    echo "$*: $got"
    [ "$got" = "$expected" ] || fail "$*: expected '$expected', got '$got'"
}

scenario_hooks_start() {
    make_scratch_files
    umount "$HOOKS_DIR/mounted" 2>/dev/null || true
    rm -rf "$HOOKS_DIR"
    mkdir -p "$HOOKS_DIR/bin" "$HOOKS_DIR/keepdir" "$HOOKS_DIR/mnt" "$HOOKS_DIR/req" "$HOOKS_DIR/mounted" \
        "$HOOKS_DIR/sub"
    local name
    for name in .bash_history tool secret owned log plain movable; do
        echo "polc" >"$HOOKS_DIR/$name"
    done
    mount -t tmpfs polc-hooks "$HOOKS_DIR/mounted" || fail "cannot mount a tmpfs on $HOOKS_DIR/mounted"
    POLRT_OBJECT=lsm_hooks start_polrt hooks
    local backends
    backends=$(ops backends "$WORK/hooks.jsonl")
    echo "$backends"
    [ "$(wc -l <<<"$backends")" -eq "${#HOOKS_NEW[@]}" ] || fail "not one backend record per hook"
    local hook
    for hook in "${HOOKS_NEW[@]}"; do
        if [ "$hook" = proc.namespace ]; then
            grep -q "^$hook tp_btf [0-9]" <<<"$backends" || fail "hook $hook did not get tp_btf"
        else
            grep -q "^$hook lsm [0-9]" <<<"$backends" || fail "hook $hook did not get the lsm backend"
        fi
    done
    echo "polc-vm: hooks backends: $(cut -d' ' -f1,2 <<<"$backends" | tr ' ' '=' | paste -sd' ')"
}

scenario_hooks_files() {
    require_session hooks
    local h=$HOOKS_DIR
    expect_op "0 EPERM" unlink "$h/.bash_history"
    [ -e "$h/.bash_history" ] || fail "the shell history was removed"
    await_event hooks rule=keep_history hook=file.unlink verdict=deny backend=lsm \
        "fields.file.path=$h/.bash_history"
    expect_op "0 ok" unlink "$h/plain"
    expect_op "0 EPERM" rename "$h/tool" "$h/bin/tool"
    await_event hooks rule=binary_dir_rename verdict=deny backend=lsm \
        "fields.file.path=$h/tool" "fields.file.newpath=$h/bin/tool"
    expect_op "0 EPERM" rename "$h/movable" "$h/.movable"
    [ -e "$h/movable" ] || fail "the file was renamed to a hidden name"
    await_event hooks rule=hidden_rename verdict=deny backend=lsm \
        "fields.file.path=$h/movable" "fields.file.newpath=$h/.movable"
    expect_op "0 ok" rename "$h/movable" "$h/sub/.movable"
    expect_op "0 EPERM" link "$h/secret" "$h/secret.link"
    await_event hooks rule=secret_link verdict=deny backend=lsm \
        "fields.file.path=$h/secret" "fields.file.newpath=$h/secret.link"
    expect_op "0 EPERM" symlink /etc/shadow "$h/shadow"
    [ ! -L "$h/shadow" ] || fail "the symlink was made"
    await_event hooks rule=shadow_symlink verdict=deny backend=lsm \
        "fields.file.path=$h/shadow" fields.file.target=/etc/shadow
    expect_op "0 ok" symlink /etc/hostname "$h/hostname"
    # The mode asked for: the guest's /tmp has POSIX ACLs, where the kernel
    # applies the umask after the LSM hook (the directory gets 0755).
    expect_op "0 ok" mkdir "$h/newdir" 777
    await_event hooks rule=audit_mkdir verdict=audit backend=lsm \
        "fields.file.path=$h/newdir" "fields.file.mode=$((8#777))"
    expect_op "0 EPERM" rmdir "$h/keepdir"
    await_event hooks rule=keep_dir verdict=deny backend=lsm "fields.file.path=$h/keepdir"
    expect_op "0 EPERM" chmod "$h/tool" 4755
    [ "$(stat -c %a "$h/tool")" = 644 ] || fail "the set-id mode applied: $(stat -c %a "$h/tool")"
    await_event hooks rule=no_setid verdict=deny backend=lsm "fields.file.path=$h/tool" \
        "fields.file.mode=$((8#4755))" fields.file.setid=True
    expect_op "0 ok" chmod "$h/tool" 600
    expect_op "0 EPERM" chown "$h/owned" 4321 4322
    await_event hooks rule=keep_owner verdict=deny backend=lsm "fields.file.path=$h/owned" \
        fields.file.uid=4321 fields.file.gid=4322
    expect_op "0 EPERM" truncate "$h/log"
    expect_op "0 EPERM" ftruncate "$h/log"
    [ -s "$h/log" ] || fail "the log was truncated"
    [ "$(ops events "$WORK/hooks.jsonl" rule=keep_log verdict=deny backend=lsm "fields.file.path=$h/log")" -ge 2 ] \
        || { sleep 2; [ "$(ops events "$WORK/hooks.jsonl" rule=keep_log "fields.file.path=$h/log")" -ge 2 ]; } \
        || fail "truncate and ftruncate were not both reported"
}

scenario_hooks_memory() {
    require_session hooks
    expect_op "0 EPERM" memfd_exec
    await_event hooks rule=no_memfd_exec verdict=deny backend=lsm fields.file.memfd=True \
        fields.file.deleted=True fields.mmap.prot=5 fields.file.path=/memfd:polc-vm
    expect_op "0 ok" mprotect_exec
    await_event hooks rule=audit_mprotect_exec verdict=audit backend=lsm fields.mmap.prot=5 \
        fields.mmap.mprotect=True
}

scenario_hooks_process() {
    require_session hooks
    expect_op "0 EPERM" ptrace
    await_event hooks rule=no_trace_sleep verdict=deny backend=lsm fields.target.comm=sleep \
        fields.ptrace.attach=True
    expect_op "0 EPERM" setuid 4321
    await_event hooks rule=no_setuid verdict=deny backend=lsm fields.setuid.uid=0 fields.setuid.euid=4321
    expect_op "0 EPERM" setgid 1234
    await_event hooks rule=no_setgid verdict=deny backend=lsm fields.setgid.gid=0 fields.setgid.egid=1234
    expect_op "0 EPERM" capset_inheritable
    await_event hooks rule=no_inheritable_caps verdict=deny backend=lsm "fields.capset.inheritable=$((1 << 21))"
    expect_op "0 EPERM" signal 15
    await_event hooks rule=no_term_sleep verdict=deny backend=lsm fields.signal.sig=15 fields.target.comm=sleep
    expect_op "137 " signal 12
    await_event hooks rule=kill_usr2_sender verdict=kill backend=lsm fields.signal.sig=12 fields.proc.comm=python3
    expect_op "0 ok" unshare_uts
    await_event hooks rule=audit_unshare verdict=audit backend=tp_btf "fields.ns.flags=$((0x04000000))" \
        fields.ns.setns=False
}

scenario_hooks_system() {
    require_session hooks
    local h=$HOOKS_DIR
    expect_op "0 EPERM" mount polc-vm "$h/mnt" tmpfs
    [ "$(fs_type "$h/mnt")" != tmpfs ] || fail "the tmpfs was mounted"
    await_event hooks rule=no_tmpfs_here verdict=deny backend=lsm "fields.mount.target=$h/mnt" \
        fields.mount.source=polc-vm fields.mount.fstype=tmpfs fields.mount.flags=2
    expect_op "0 EPERM" umount "$h/mounted"
    [ "$(fs_type "$h/mounted")" = tmpfs ] || fail "the tmpfs was unmounted"
    await_event hooks rule=keep_mounted verdict=deny backend=lsm "fields.mount.target=$h/mounted"
    # A file system type nobody has: the kernel asks for module fs-polcfs,
    # which is refused; the mount fails as if no such module existed.
    expect_op "0 ENODEV" mount polc-vm "$h/req" polcfs
    await_event hooks rule=no_module_request verdict=deny backend=lsm fields.module.name=fs-polcfs
}

scenario_hooks_network() {
    require_session hooks
    expect_op "0 EPERM" listen "$HOOKS_LISTEN_PORT"
    await_event hooks rule=no_listen verdict=deny backend=lsm fields.net.saddr=127.0.0.1 \
        "fields.net.sport=$HOOKS_LISTEN_PORT"
    expect_op "0 ok" listen "$ALLOWED_PORT"
    expect_op "137 " accept "$HOOKS_ACCEPT_PORT"
    await_event hooks rule=kill_accept verdict=kill backend=lsm fields.net.daddr=127.0.0.1 \
        "fields.net.sport=$HOOKS_ACCEPT_PORT" fields.proc.comm=python3
    expect_op "0 EPERM" socket 2 3 1
    await_event hooks rule=no_raw_sockets verdict=deny backend=lsm fields.socket.family=2 \
        fields.socket.type=3 fields.socket.protocol=1
    expect_op "0 EPERM" socket 17 3 0
    await_event hooks rule=no_raw_sockets verdict=deny backend=lsm fields.socket.family=17
    expect_op "0 ok" socket 2 2 0
    echo "polc-vm: hooks: every operation refused with EPERM or killed, and reported by lsm"
}

scenario_hooks_stop() {
    stop_polrt hooks
    umount "$HOOKS_DIR/mounted" || fail "cannot unmount $HOOKS_DIR/mounted"
}

# The container context through the exec hook's backend (lsm here): one
# `polrt run` session of examples/containers.pol, real cgroups below the
# test cgroup named as docker (systemd driver) and a best-effort pod's
# container (cgroupfs driver) name them; a shell in each is audited with
# the id, runtime, pod uid and QoS class the kernel read from the cgroup
# names, dpkg in a container is refused (EPERM through lsm), on the host it
# runs; a program copied into the guest's /tmp (an overlay: its upper
# layer) is refused in the docker container (exec.upper_layer), on the host
# it runs.
CONTAINER_ID=4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e
CONTAINER_ID2=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
POD_UID=7d9e3f2a-1b4c-4d5e-8f6a-0b1c2d3e4f5a

in_cg() { # CGROUP COMMAND ARGS...: run COMMAND as a member of CGROUP
    sh -c 'echo 0 >"$0/cgroup.procs" && exec "$@"' "$@"
}

exec_in_cg() { # CGROUP PATH [ARGS]: "<exit status> <error message or nothing>" (see exec_in_cgroup)
    local msg rc=0
    msg=$(in_cg "$1" env "${@:2}" 2>&1 >/dev/null) || rc=$?
    echo "$rc ${msg##*: }"
}

scenario_containers() {
    make_scratch_files
    local docker=$CGROUP/system.slice/docker-$CONTAINER_ID.scope
    local pod=$CGROUP/kubepods/besteffort/pod$POD_UID
    local lxc=$CGROUP/lxc.payload.web
    local nspawn=$CGROUP/machine.slice/machine-db.scope/payload
    local made=("$docker" "$CGROUP/system.slice" "$pod/$CONTAINER_ID2" "$pod" "$CGROUP/kubepods/besteffort" "$CGROUP/kubepods"
        "$lxc" "$nspawn" "$CGROUP/machine.slice/machine-db.scope" "$CGROUP/machine.slice")
    # shellcheck disable=SC2064 # expand now: the trap runs after locals are gone
    trap "rmdir ${made[*]} 2>/dev/null || true" EXIT
    mkdir -p "$docker" "$pod/$CONTAINER_ID2" "$lxc" "$nspawn" || fail "cannot create the container cgroups"
    POLRT_OBJECT=containers start_polrt containers
    local backend
    backend=$(ops backends "$WORK/containers.jsonl" | grep '^exec ' | cut -d' ' -f2)
    echo "exec backend: $backend"
    in_cg "$docker" /bin/bash -c : || fail "a shell in the docker container failed"
    await_event containers rule=terminal_shell_in_container verdict=audit "backend=$backend" \
        "fields.container.id=$CONTAINER_ID" fields.container.runtime=docker fields.k8s.pod.uid=
    in_cg "$pod/$CONTAINER_ID2" /bin/bash -c : || fail "a shell in the pod's container failed"
    await_event containers rule=terminal_shell_in_container verdict=audit "backend=$backend" \
        "fields.container.id=$CONTAINER_ID2" fields.container.runtime=cri \
        "fields.k8s.pod.uid=$POD_UID" fields.k8s.pod.qos=besteffort
    # Named containers: LXC's payload, systemd-nspawn's machine.
    in_cg "$lxc" /bin/bash -c : || fail "a shell in the LXC container failed"
    await_event containers rule=terminal_shell_in_container verdict=audit "backend=$backend" \
        fields.container.id=web fields.container.runtime=lxc
    in_cg "$nspawn" /bin/bash -c : || fail "a shell in the nspawn container failed"
    await_event containers rule=terminal_shell_in_container verdict=audit "backend=$backend" \
        fields.container.id=db fields.container.runtime=systemd-nspawn
    local outcome expected="126 Operation not permitted"
    [ "$backend" = lsm ] || expected="137 "
    outcome=$(exec_in_cg "$docker" /usr/bin/dpkg --version)
    echo "dpkg in the docker container: $outcome"
    [ "$outcome" = "$expected" ] || fail "dpkg in a container: expected '$expected', got '$outcome'"
    await_event containers rule=package_management_in_container verdict=deny "backend=$backend" \
        "fields.container.short_id=${CONTAINER_ID:0:12}" fields.container.runtime=docker
    outcome=$(exec_in_cg "$CGROUP" /usr/bin/dpkg --version)
    [ "$outcome" = "0 " ] || fail "dpkg on the host: expected '0 ', got '$outcome'"
    # overlayfs upper layer: the guest's /tmp is an overlay, so a program
    # copied there is in its upper layer (the host's files are its lower
    # one): refused in the docker container, not on the host.
    local fstype
    fstype=$(stat -f -c %T "$WORK")
    if [ "$fstype" = overlayfs ]; then
        cp /bin/true "$WORK/dropped-true"
        outcome=$(exec_in_cg "$docker" "$WORK/dropped-true")
        echo "a program dropped into the docker container: $outcome"
        [ "$outcome" = "$expected" ] || fail "a dropped program in a container: expected '$expected', got '$outcome'"
        await_event containers rule=drop_and_execute_new_binary_in_container verdict=deny "backend=$backend" \
            "fields.exec.path=$WORK/dropped-true" fields.container.runtime=docker
        outcome=$(exec_in_cg "$CGROUP" "$WORK/dropped-true")
        [ "$outcome" = "0 " ] || fail "a dropped program on the host: expected '0 ', got '$outcome'"
    else
        # virtme-ng mounts the guest's /tmp as an overlay of the host's.
        fail "$WORK is on $fstype, not an overlay: no upper layer to drop a program into"
    fi
    stop_polrt containers
    [ "$(ops events "$WORK/containers.jsonl" rule=drop_and_execute_new_binary_in_container)" -eq 1 ] \
        || fail "a program of the upper layer was reported outside the container"
    [ "$(ops events "$WORK/containers.jsonl" rule=package_management_in_container)" -eq 1 ] \
        || fail "dpkg on the host was reported"
    echo "polc-vm: containers: docker ${CONTAINER_ID:0:12}, pod $POD_UID (besteffort), lxc web and nspawn db read from cgroup names through $backend; a program dropped into the overlay's upper layer refused in the container"
}

# Ancestry and command lines through the LSM backend: one `polrt run`
# session of examples/process_context.pol. A real three-level tree (a copy
# of bash named nginx, a `timeout` below it, a shell below that): the
# shell's exec is killed, reported with the parent the kernel walked to;
# a copy of bash named xmrig started with a Stratum URL among its
# arguments is killed when it connects, reported with the command line the
# kernel read from its memory at its exec.
scenario_process_context() {
    make_scratch_files
    cp /bin/bash "$WORK/nginx"
    cp /bin/bash "$WORK/xmrig"
    POLRT_OBJECT=process_context start_polrt context
    local out
    # timeout dies of its child's signal, which bash reports on stderr.
    out=$(in_cgroup "$WORK/nginx" -c 'timeout 5 /bin/sh -c "echo pwned"; echo "status=$?"' 2>/dev/null) || true
    echo "nginx -> timeout -> sh: $out"
    [ "$out" = "status=137" ] || fail "the shell below nginx and timeout was not killed before it ran: $out"
    await_event context rule=run_shell_untrusted verdict=kill backend=lsm \
        fields.proc.ancestors[1].comm=timeout
    local rc=0 connect="exec 3<>/dev/tcp/127.0.0.1/$CONTEXT_PORT"
    in_cgroup "$WORK/xmrig" -c "$connect" xmrig -o stratum+tcp://pool.example:3333 2>/dev/null || rc=$?
    echo "xmrig's connect: exit status $rc"
    [ "$rc" -eq 137 ] || fail "the miner was not killed when it connected (exit status $rc)"
    await_event context rule=crypto_miner_stratum verdict=kill backend=lsm \
        "fields.proc.cmdline=$WORK/xmrig -c $connect xmrig -o stratum+tcp://pool.example:3333"
    stop_polrt context
    echo "polc-vm: process context: a three-level tree and a command line read by the kernel through lsm"
}

# Several policies on one LSM hook compose as on the other backends: each
# policy's reporting program (fentry on the hook's bpf_lsm_ function) runs
# before any LSM program, so every policy reports, whatever the order they
# were started or attached in; the operation is refused when any refuses,
# and a kill is made when any kills.
scenario_policies_lsm_order() {
    make_scratch_files
    cp /bin/true "$WORK/ordered-true"
    cp /bin/true "$WORK/killed-true"
    local verdict
    for verdict in deny audit kill; do
        {
            printf 'rule %s_ordered {\n    on exec\n    when exec.path == "%s"\n    %s\n}\n' \
                "$verdict" "$WORK/ordered-true" "$verdict"
            [ "$verdict" = deny ] || printf 'rule %s_killed {\n    on exec\n    when exec.path == "%s"\n    %s\n}\n' \
                "$verdict" "$WORK/killed-true" "$verdict"
        } >"$WORK/order_$verdict.pol"
    done
    printf 'rule deny_killed {\n    on exec\n    when exec.path == "%s"\n    deny\n}\n' \
        "$WORK/killed-true" >>"$WORK/order_deny.pol"
    local session first second outcome count rule
    for session in deny-audit audit-deny; do
        first=${session%-*}
        second=${session#*-}
        POLRT_POLICY=$WORK/order_$first.pol start_polrt "$session" "$WORK/order_$second.pol" --require-lsm
        grep -q "^polrt: note: several policies: on the lsm backend of exec each runs a reporting program" \
            "$WORK/$session.err" || fail "polrt did not say how the policies share exec's lsm hook"
        outcome=$(exec_in_cgroup "$WORK/ordered-true")
        [ "$outcome" = "126 Operation not permitted" ] || fail "the exec was not refused ($outcome)"
        await_event "$session" rule=deny_ordered verdict=deny backend=lsm
        await_event "$session" rule=audit_ordered verdict=audit backend=lsm
        local reloads=0
        if [ "$session" = audit-deny ]; then
            # A new generation of the denying policy: its reporting and
            # refusing programs replace the old ones; both policies still
            # act on the next exec.
            { echo "# version 2"; cat "$WORK/order_deny.pol"; } >"$WORK/order_deny.pol.tmp"
            mv "$WORK/order_deny.pol.tmp" "$WORK/order_deny.pol"
            local waited=0
            until grep -q 'reload: policy `order_deny` reloaded' "$WORK/$session.err"; do
                waited=$((waited + 1))
                [ "$waited" -lt $((READY_TIMEOUT * 10)) ] || fail "order_deny was not reloaded"
                sleep 0.1
            done
            reloads=1
            outcome=$(exec_in_cgroup "$WORK/ordered-true")
            [ "$outcome" = "126 Operation not permitted" ] || fail "after the reload the exec was not refused ($outcome)"
            await_event "$session" rule=deny_ordered verdict=deny backend=lsm \
                "generation=$(sha256sum "$WORK/order_deny.pol" | cut -d' ' -f1)"
        fi
        stop_polrt "$session"
        for rule in deny_ordered audit_ordered; do
            count=$(ops events "$WORK/$session.jsonl" "rule=$rule")
            [ "$count" -eq $((reloads + 1)) ] || fail "$session: $count events of $rule, not $((reloads + 1))"
        done
        echo "$session: refused, reported by each policy ($reloads reloads)"
    done
    # A deny and a kill of one exec, in both orders: killed, both reported.
    for session in deny-kill kill-deny; do
        first=${session%-*}
        second=${session#*-}
        POLRT_POLICY=$WORK/order_$first.pol start_polrt "$session" "$WORK/order_$second.pol" --require-lsm
        outcome=$(exec_in_cgroup "$WORK/killed-true")
        case $outcome in
            "137 "*) ;;
            *) fail "$session: the exec was not killed ($outcome)" ;;
        esac
        await_event "$session" rule=deny_killed verdict=deny backend=lsm
        await_event "$session" rule=kill_killed verdict=kill backend=lsm
        stop_polrt "$session"
        echo "$session: killed, reported by each policy"
    done
    # Persisted (--persist): each policy pinned under its own name, its
    # reporting and refusing programs too. Killed, polrt leaves both
    # policies acting; a new run adopts both and reads what they reported
    # meanwhile; `polrt stop` removes each.
    POLRT_POLICY=$WORK/order_deny.pol start_polrt persisted "$WORK/order_audit.pol" --require-lsm --persist
    kill -KILL "$(cat "$WORK/persisted.pid")"
    await_exit persisted "polrt did not die of SIGKILL"
    outcome=$(exec_in_cgroup "$WORK/ordered-true")
    [ "$outcome" = "126 Operation not permitted" ] || fail "with no polrt running the exec was not refused ($outcome)"
    POLRT_POLICY=$WORK/order_deny.pol start_polrt adopted "$WORK/order_audit.pol" --require-lsm --persist
    local name
    for name in order_deny order_audit; do
        grep -q "adopted \`$name\` " "$WORK/adopted.err" || fail "the new run did not adopt $name"
    done
    await_event adopted rule=deny_ordered verdict=deny backend=lsm
    await_event adopted rule=audit_ordered verdict=audit backend=lsm
    local ids
    ids=$(ops backends "$WORK/adopted.jsonl" | cut -d' ' -f3-) || fail "no backend records"
    [ -n "${ids// /}" ] || fail "the adopting polrt reported no program ids"
    "$(bin polrt)" stop order_deny || fail "polrt stop order_deny failed"
    await_exit adopted "the adopting polrt did not exit"
    "$(bin polrt)" stop order_audit || fail "polrt stop order_audit failed"
    [ ! -e /sys/fs/bpf/polc/order_deny ] && [ ! -e /sys/fs/bpf/polc/order_audit ] \
        || fail "pins of the policies are left"
    # The kernel releases a link's last reference from a work queue.
    # shellcheck disable=SC2086 # one id a word
    await_programs_gone $ids
    outcome=$(exec_in_cgroup "$WORK/ordered-true")
    [ "$outcome" = "0 " ] || fail "the exec is still refused after polrt stop ($outcome)"
    echo "persisted: both policies kept acting with no polrt, adopted, stopped"
    echo "polc-vm: several policies on exec's lsm hook: every policy reports, the strongest verdict wins, in either order"
}

# The boot without BPF LSM (tests/vm.rs boots 6.12 with an lsm= list that
# leaves bpf out): the kernel loads and attaches LSM programs there and never
# runs them, and polrt must notice.
scenario_lsm_bpf_inactive() {
    local lsm
    lsm=$(cat /sys/kernel/security/lsm)
    echo "active LSMs: $lsm"
    case ",$lsm," in
        *,bpf,*) fail "bpf is among the active LSMs ($lsm): the lsm= option did not take" ;;
    esac
    grep -q 'lsm=' /proc/cmdline || fail "the kernel command line has no lsm= option"
}

# polrt verify: the LSM programs pass the verifier (this kernel loads them),
# and the report says this kernel would not run them.
scenario_no_lsm_verify() {
    local polrt out rc=0
    polrt=$(bin polrt)
    out=$("$polrt" verify "$(artifact objects/lsm_enforce.o)" 2>&1) || rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || fail "polrt verify exited with status $rc"
    grep -q ' lsm/.* passed$' <<<"$out" || fail "no lsm program passed the verifier"
    grep -q '^note: the lsm programs passed the verifier, but this kernel would not run them: BPF LSM is not active' <<<"$out" \
        || fail "polrt verify does not say that this kernel would not run the lsm programs"
}

# --require-lsm refuses to run, naming the reason, before anything is attached.
scenario_no_lsm_require_refused() {
    make_scratch_files
    local polrt err rc=0
    polrt=$(bin polrt)
    err=$("$polrt" run "$(artifact objects/lsm_enforce.o)" --require-lsm --cgroup "$CGROUP" \
        --format json --output "$WORK/refused.jsonl" </dev/null 2>&1 >/dev/null) || rc=$?
    echo "$err"
    [ "$rc" -eq 1 ] || fail "polrt run --require-lsm exited with status $rc, not 1"
    grep -q "^polrt: error: --require-lsm: hook \`exec\` would fall back to tp_btf (BPF LSM is not active" <<<"$err" \
        || fail "the refusal does not name the fallback and the reason"
    ! grep -q '^polrt: ready' <<<"$err" || fail "polrt got ready"
}

# Without --require-lsm polrt picks the fallbacks, says why lsm is
# unavailable (start-up lines and backend records), and the fallback
# enforces: the denied exec is killed at its point of no return, before
# the program runs.
scenario_no_lsm_fallback() {
    make_scratch_files
    start_polrt fallback
    local backends
    backends=$(ops backends "$WORK/fallback.jsonl")
    echo "$backends"
    ! grep -q '^[^ ]* lsm ' <<<"$backends" || fail "a hook got the lsm backend"
    grep -q '^exec tp_btf [0-9]' <<<"$backends" || fail "exec did not fall back to tp_btf"
    grep -q '^net.connect cgroup [0-9]' <<<"$backends" || fail "net.connect did not fall back to cgroup"
    local unavailable
    unavailable=$(grep -c '"unavailable":\[{"backend":"lsm","reason":"BPF LSM is not active' "$WORK/fallback.jsonl" || true)
    [ "$unavailable" -eq "$(wc -l <<<"$backends")" ] \
        || fail "$unavailable of $(wc -l <<<"$backends") backend records give the reason lsm is unavailable"
    grep -q '^polrt: exec: tp_btf .*; lsm unavailable: BPF LSM is not active' "$WORK/fallback.err" \
        || fail "the start-up line of exec does not say why lsm is unavailable"
    local rc=0
    in_cgroup "$WORK/denied-touch" "$WORK/fallback.marker" || rc=$?
    echo "exec of denied-touch: exit status $rc"
    [ "$rc" -eq 137 ] || fail "the denied exec was not killed by the tp_btf fallback (exit status $rc)"
    [ ! -e "$WORK/fallback.marker" ] || fail "the denied program ran"
    await_event fallback rule=deny_exec verdict=deny backend=tp_btf
    stop_polrt fallback
    echo "polc-vm: without BPF LSM: $(cut -d' ' -f1,2 <<<"$backends" | tr ' ' '=' | paste -sd' ')"
}

# Stop whatever a failed session left running or pinned, and remove the
# test cgroup.
cleanup() {
    local pidfile
    for pidfile in "$WORK"/*.pid; do
        [ -e "$pidfile" ] || continue
        kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
    done
    umount "$HOOKS_DIR/mounted" 2>/dev/null || true
    if [ -n "${POLC_VM_BIN_DIR:-}" ] && [ -d "$PINS" ]; then
        "$POLC_VM_BIN_DIR/polrt" stop "$PERSIST_NAME" >/dev/null 2>&1 || true
    fi
    rmdir "$CGROUP" 2>/dev/null || true
}
trap cleanup EXIT

selected=("$@")
[ "${#selected[@]}" -gt 0 ] || selected=("${SCENARIOS[@]}")

failed=0
timings=()
for name in "${selected[@]}"; do
    fn=scenario_${name//-/_}
    if ! declare -F "$fn" >/dev/null; then
        echo "FAIL $name: no such scenario"
        failed=$((failed + 1))
        continue
    fi
    started=$SECONDS
    out=$( (set -e; "$fn") 2>&1 )
    rc=$?
    timings+=("$name=$((SECONDS - started))s")
    grep '^polc-vm: ' <<<"$out" || true
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
    else
        why=$(printf '%s\n' "$out" | sed '/^[[:space:]]*$/d' | tail -n 1)
        echo "FAIL $name: ${why:-exit status $rc}"
        printf '%s\n' "$out" | sed 's/^/  | /'
        failed=$((failed + 1))
    fi
done
echo "polc-vm: seconds per scenario: ${timings[*]}"
echo "polc-vm: scenarios done"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run) and as README.md gives it:
# setup, formatting, lints, build, tests (host kernel tests included), docs,
# and the BPF LSM tests in virtual machines. Every stage runs even when an
# earlier one failed (setup aside); a timed summary ends the output and the
# exit status is non-zero if any stage failed.
#
# Run as root (sudo scripts/test.sh): setup installs packages, and the kernel
# and VM tests need root. They are required here, never skipped: this script
# sets POLC_KERNEL_TESTS and POLC_VM_TESTS to "require" unless they are set
# already (under a plain `cargo test` they are unset, and a kernel or VM test
# that cannot run skips with a note; see tests/lib.rs and tests/vm.rs).
# CARGO_TARGET_DIR is honoured.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1

export POLC_KERNEL_TESTS=${POLC_KERNEL_TESTS:-require}
export POLC_VM_TESTS=${POLC_VM_TESTS:-require}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A one-off build gains nothing from incremental compilation, whose caches
# take as much disk again.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL=0
fi

# shellcheck source=scripts/cargo-env.sh
. "$repo/scripts/cargo-env.sh"

names=()
results=()
seconds=()
failed=0

# stage NAME COMMAND...: run one stage, record its status and duration.
stage() {
    local name=$1
    shift
    echo
    echo "==> $name: $*"
    local start=$SECONDS rc=0
    "$@" || rc=$?
    names+=("$name")
    seconds+=("$((SECONDS - start))")
    if [ "$rc" -eq 0 ]; then
        results+=(ok)
    else
        results+=("FAILED (exit status $rc)")
        failed=$((failed + 1))
    fi
    return "$rc"
}

# disk: free space where the build writes, printed at the start and in the
# summary, so a stage that fails for want of disk says so.
disk() {
    local dir=${CARGO_TARGET_DIR:-$repo/target}
    mkdir -p "$dir" 2>/dev/null || dir=$repo
    df -h --output=avail,size,target "$dir" | tail -n 1 |
        awk '{ printf "%s free of %s on %s", $1, $2, $3 }'
}

summary() {
    echo
    echo "==> summary ($(disk) at the end)"
    local i
    for i in "${!names[@]}"; do
        printf '  %-8s %5ss  %s\n' "${names[$i]}" "${seconds[$i]}" "${results[$i]}"
    done
    printf '  %-8s %5ss  %s\n' total "$SECONDS" \
        "$([ "$failed" -eq 0 ] && echo "all stages passed" || echo "$failed stage(s) FAILED")"
}

echo "test: $(disk) at the start"
if ! stage setup "$repo/scripts/setup.sh"; then
    summary
    exit 1
fi
command -v cargo >/dev/null 2>&1 || {
    echo "test: cargo not found (install Rust with rustup)" >&2
    exit 1
}

stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets --locked -- -D warnings
# The binaries (polc, polrt) exist before the tests that run them.
stage build cargo build --workspace --locked
# The VM tests get a stage of their own below, for a separate timing.
stage test env POLC_VM_TESTS=skip cargo test --workspace --locked
# The properties over generated policies again with a fresh seed each run
# (the test stage ran the fixed one): a new corpus every time, a quarter of
# the size.
prop_seed="0x$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
prop_tests=(generated_policies compiled_decisions the_executor policies_near_the_limits)
echo "test: random property seed $prop_seed; reproduce with:" \
    "POLC_PROP_SEED=$prop_seed POLC_PROP_CASES=100 cargo test -p polc-tests --test properties" \
    "-- ${prop_tests[*]}"
stage properties-random env POLC_PROP_SEED="$prop_seed" POLC_PROP_CASES=100 \
    cargo test -p polc-tests --test properties --locked -- "${prop_tests[@]}"
stage doc env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked

# The fuzz targets (a workspace of their own, fuzz/): built with the stable
# toolchain and no sanitizer (cargo-fuzz's coverage build needs nightly), then
# each run on a few generated inputs, so a target that no longer builds or
# starts fails here. Fuzzing itself is fuzz/README.md's `cargo fuzz run`.
fuzz_targets() {
    local dir=${CARGO_TARGET_DIR:-$repo/target}
    cargo build --manifest-path "$repo/fuzz/Cargo.toml" --locked --target-dir "$dir" || return 1
    local target
    for target in check source generated object corrupt; do
        "$dir/debug/$target" -runs=64 -max_len=1024 -seed=1 || return 1
    done
}
stage fuzz fuzz_targets
stage vm cargo test -p polc-tests --test vm --locked

summary
[ "$failed" -eq 0 ]

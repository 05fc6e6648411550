# Sourced by scripts/test.sh and bench/run.sh: under sudo, cargo may live in
# the invoking user's rustup installation; put it on PATH.
if ! command -v cargo >/dev/null 2>&1; then
    for home in "$HOME" ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)"}; do
        if [ -x "$home/.cargo/bin/cargo" ]; then
            export PATH="$home/.cargo/bin:$PATH"
            export CARGO_HOME=${CARGO_HOME:-$home/.cargo}
            export RUSTUP_HOME=${RUSTUP_HOME:-$home/.rustup}
            break
        fi
    done
fi

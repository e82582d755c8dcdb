#!/usr/bin/env bash
# Host (native) unit tests of the Rust kernel and its ABI crate:
#   cargo test --profile checked -p xent-kernel -p xent-abi
# (profile checked: release optimisations with debug assertions and overflow checks on; see Cargo.toml).
# Cargo: $XENT_CARGO if set, else rustup's (~/.cargo/bin, /root/.cargo/bin), else whatever `cargo`
# is on PATH, else Debian's /usr/bin/cargo. Extra arguments go to `cargo test` (e.g. -- --nocapture).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# A cargo counts only if it runs (a rustup proxy without a default toolchain does not).
works() { [[ -n "$1" && -x "$1" ]] && "$1" -V >/dev/null 2>&1; }
cargo=""
for c in "${XENT_CARGO:-}" "${CARGO_HOME:-${HOME:-/root}/.cargo}/bin/cargo" /root/.cargo/bin/cargo \
    "$(command -v cargo 2>/dev/null || true)" /usr/bin/cargo; do
    if works "$c"; then cargo="$c"; break; fi
done
if [[ -z "$cargo" ]]; then
    echo "test-kernel: error: no working cargo found (tried \$XENT_CARGO, ~/.cargo/bin/cargo, PATH, /usr/bin/cargo): install rustup, or apt-get install cargo-web rustc-web" >&2
    exit 1
fi
# Use the rustc next to that cargo (a rustup proxy or Debian's), not whichever is first on PATH.
bindir="$(dirname "$cargo")"
rustc="$bindir/rustc"
works "$rustc" || { echo "test-kernel: error: $cargo has no working rustc next to it ($rustc)" >&2; exit 1; }

echo "test-kernel: cargo test --profile checked -p xent-kernel -p xent-abi [$("$cargo" -V), $("$rustc" -V | cut -d' ' -f1-2), host]"
env -u CARGO_BUILD_TARGET PATH="$bindir:$PATH" RUSTC="$rustc" \
    "$cargo" test --quiet --profile checked --offline -p xent-kernel -p xent-abi "$@" ||
    { echo "test-kernel: error: cargo test failed" >&2; exit 1; }

#!/usr/bin/env bash
# Rust formatting and lints, all of which must pass (warnings are errors):
#   1. cargo fmt --check                                    (rustfmt.toml)
#   2. cargo clippy --workspace --all-targets -D warnings   (host: the tests and the portable lanes)
#   3. cargo doc --document-private-items, -D warnings      (broken or ambiguous doc links)
#   4. cargo clippy of the wasm32 builds, -D warnings       (simd128: lanes/simd128.rs; mvp: portable;
#                                                            relaxed: the relaxed-SIMD lanes)
# The lint levels themselves are in Cargo.toml ([workspace.lints]).
# Tools: rustup's cargo with its clippy and rustfmt components where present, else Debian's
# (/usr/bin/cargo-clippy from rust-web-clippy, /usr/bin/rustfmt from rustfmt-web). The wasm32 lints
# use the toolchain of scripts/build-wasm.sh (scripts/wasm-toolchain.sh) with its flags, and a
# clippy of the same rustc (Debian's sysroot is built by that rustc).
# `--fix` formats the Rust sources (cargo fmt --all) instead of checking anything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
err() { echo "lint-rust: error: $*" >&2; exit 1; }

works() { [[ -n "$1" && -x "$1" ]] && "$1" -V >/dev/null 2>&1; }
# rustup's cargo (with clippy and rustfmt), else Debian's.
host_cargo=""
for c in "${XENT_CARGO:-}" "${CARGO_HOME:-${HOME:-/root}/.cargo}/bin/cargo" /root/.cargo/bin/cargo; do
    if works "$c" && "$c" clippy --version >/dev/null 2>&1 && "$c" fmt --version >/dev/null 2>&1; then
        host_cargo="$c"
        break
    fi
done
if [[ -n "$host_cargo" ]]; then
    fmt=("$host_cargo" fmt)
    clippy=("$host_cargo" clippy)
else
    # Debian's, called directly: `cargo clippy` would find rustup's cargo-clippy in ~/.cargo/bin.
    works /usr/bin/cargo || err "no cargo: install rustup (with: rustup component add clippy rustfmt), or apt-get install cargo-web rustc-web"
    [[ -x /usr/bin/cargo-clippy ]] || err "no clippy: rustup component add clippy, or apt-get install rust-web-clippy (/usr/bin/cargo-clippy)"
    [[ -x /usr/bin/cargo-fmt && -x /usr/bin/rustfmt ]] ||
        err "no rustfmt: rustup component add rustfmt, or apt-get install rustfmt-web (/usr/bin/rustfmt, /usr/bin/cargo-fmt)"
    host_cargo=/usr/bin/cargo
    fmt=(/usr/bin/cargo-fmt)
    clippy=(/usr/bin/cargo-clippy clippy)
fi
bindir="$(dirname "$host_cargo")"
# That toolchain's cargo and rustc first (cargo-fmt and cargo-clippy run the cargo of PATH).
host_env=(PATH="$bindir:$PATH" CARGO="$host_cargo" RUSTC="$bindir/rustc")

if [[ ${1:-} == --fix ]]; then
    echo "lint-rust: cargo fmt --all [$("${fmt[@]}" --version)]"
    exec env "${host_env[@]}" "${fmt[@]}" --all
fi
[[ $# -eq 0 ]] || err "unknown argument '$1' (usage: lint-rust.sh [--fix])"

echo "lint-rust: cargo fmt --check [$("${fmt[@]}" --version)]"
env "${host_env[@]}" "${fmt[@]}" --all --check || err "unformatted Rust (run: cargo fmt --all)"

echo "lint-rust: cargo clippy --workspace --all-targets (host) [$("${clippy[@]}" --version)]"
env -u CARGO_BUILD_TARGET -u RUSTFLAGS "${host_env[@]}" \
    "${clippy[@]}" --quiet --offline --workspace --all-targets -- -D warnings || err "clippy (host) failed"

echo "lint-rust: cargo doc --document-private-items (host)"
env -u CARGO_BUILD_TARGET -u RUSTFLAGS "${host_env[@]}" RUSTDOCFLAGS="-D warnings" \
    "$host_cargo" doc --quiet --offline --no-deps --document-private-items -p xent-kernel -p xent-abi ||
    err "cargo doc failed (a broken doc link?)"

# shellcheck source=scripts/wasm-toolchain.sh
source scripts/wasm-toolchain.sh
for flavour in simd128 mvp relaxed; do
    xent_wasm_toolchain "$flavour" || err "no wasm32 toolchain for $flavour (see scripts/wasm-toolchain.sh)"
    if [[ $XENT_WASM_KIND == debian ]]; then
        # Debian's clippy-driver (next to cargo-clippy) matches the rustc that built the sysroot.
        [[ -x /usr/bin/cargo-clippy ]] || err "no clippy for Debian's rustc: apt-get install rust-web-clippy"
        wasm_clippy=(/usr/bin/cargo-clippy clippy)
    else
        wasm_clippy=("$XENT_WASM_CARGO" clippy)
    fi
    encoded="$(IFS=$'\x1f'; echo "${XENT_WASM_RUSTFLAGS[*]}")"
    echo "lint-rust: clippy, wasm32 $flavour [$XENT_WASM_DESC]"
    # A target dir of its own: clippy's metadata must not replace the build's artefacts.
    env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_BUILD_TARGET \
        PATH="$XENT_WASM_PATH" RUSTC="$XENT_WASM_RUSTC" CARGO="$XENT_WASM_CARGO" \
        CARGO_TARGET_DIR="$root/target/wasm-clippy/$flavour" CARGO_ENCODED_RUSTFLAGS="$encoded" \
        "${wasm_clippy[@]}" --quiet --offline --target "$XENT_WASM_TARGET" -p xent-kernel -p xent-abi --lib -- -D warnings ||
        err "clippy (wasm32 $flavour) failed"
done
echo "lint-rust: ok"

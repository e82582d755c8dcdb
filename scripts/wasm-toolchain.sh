#!/usr/bin/env bash
# A Rust toolchain that builds wasm32-unknown-unknown offline, in one of these flavours:
#   simd128  wasm SIMD enabled            (-C target-feature=+simd128)
#   mvp      portable, WebAssembly 1.0    (-C target-cpu=mvp)
#   threads  simd128 + atomics            (for the shared-memory worker build)
#   relaxed  simd128 + relaxed-simd       (fused multiply-add; opt-in variant)
#
# Usage:
#   source scripts/wasm-toolchain.sh && xent_wasm_toolchain simd128   # sets the variables below
#   bash scripts/wasm-toolchain.sh [flavour]...                       # prepare (default: simd128 mvp), print
#
# Which toolchain:
#   rustup  if `rustup target list --installed` lists wasm32-unknown-unknown (a contributor's laptop):
#           its own prebuilt core is used, no sysroot is built.
#   debian  otherwise: Debian's rustc-web / cargo-web / rust-web-src / lld-22 (in /usr/bin). A
#           wasm32 sysroot (core + compiler_builtins) is built from the vendored sources, once per
#           rustc version and flavour, with the flavour's codegen flags, and cached in
#           target/wasm-sysroot/<rustc release>-<commit>-r<recipe>-<flavour>/ (~25 s; then free).
#   Force one with XENT_WASM_TOOLCHAIN=rustup|debian (default auto); Debian's bin dir can be moved
#   with XENT_DEBIAN_RUST_BIN (default /usr/bin).
#
# After `xent_wasm_toolchain <flavour>` returns 0:
#   XENT_WASM_KIND       rustup | debian
#   XENT_WASM_CARGO      the cargo binary to run
#   XENT_WASM_RUSTC      the matching rustc (pass it as RUSTC=...)
#   XENT_WASM_PATH       PATH with that toolchain's bin dir first
#   XENT_WASM_RUSTFLAGS  bash array: --sysroot and -C linker (debian) + the flavour's codegen flags;
#                        join with $'\x1f' into CARGO_ENCODED_RUSTFLAGS (safe with spaces in paths)
#   XENT_WASM_DESC       one line describing the above
# On failure it prints a message naming what is missing and returns 1.

XENT_WASM_TARGET=wasm32-unknown-unknown
XENT_WASM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Bump when the sysroot recipe below changes: it is part of the cache path (so cargo relinks the
# crate against the new sysroot) and of the stamp.
_XENT_SYSROOT_RECIPE=1

_xent_err() { echo "wasm-toolchain: error: $*" >&2; }

# Codegen flags of a flavour; the Debian sysroot is built with the same ones.
_xent_flavour_flags() {
    case "$1" in
        simd128) echo "-C target-feature=+simd128" ;;
        mvp) echo "-C target-cpu=mvp" ;;
        threads) echo "-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals" ;;
        relaxed) echo "-C target-feature=+simd128,+relaxed-simd" ;;
        *) _xent_err "unknown flavour '$1' (expected simd128, mvp, threads or relaxed)"; return 1 ;;
    esac
}

_xent_find_rustup() {
    local r
    for r in "$(command -v rustup 2>/dev/null || true)" "${CARGO_HOME:-${HOME:-/root}/.cargo}/bin/rustup" /root/.cargo/bin/rustup; do
        if [[ -n "$r" && -x "$r" ]]; then echo "$r"; return 0; fi
    done
    return 1
}

# Succeeds when rustup exists and its active toolchain (for this repo) has the wasm32 target.
_xent_rustup_has_wasm() {
    local rustup
    rustup="$(_xent_find_rustup)" || return 1
    (cd "$XENT_WASM_ROOT" && "$rustup" target list --installed 2>/dev/null) | grep -qx "$XENT_WASM_TARGET"
}

_xent_setup_rustup() {
    local flavour="$1" fflags rustup rustc cargo
    fflags="$(_xent_flavour_flags "$flavour")" || return 1
    if ! rustup="$(_xent_find_rustup)"; then
        _xent_err "XENT_WASM_TOOLCHAIN=rustup but rustup is not installed"; return 1
    fi
    if ! _xent_rustup_has_wasm; then
        _xent_err "rustup has no $XENT_WASM_TARGET target: run 'rustup target add $XENT_WASM_TARGET', or unset XENT_WASM_TOOLCHAIN to use Debian's rustc-web"
        return 1
    fi
    rustc="$(cd "$XENT_WASM_ROOT" && "$rustup" which rustc)" || { _xent_err "'rustup which rustc' failed"; return 1; }
    cargo="$(cd "$XENT_WASM_ROOT" && "$rustup" which cargo)" || { _xent_err "'rustup which cargo' failed"; return 1; }
    XENT_WASM_KIND=rustup
    XENT_WASM_RUSTC="$rustc"
    XENT_WASM_CARGO="$cargo"
    XENT_WASM_PATH="$(dirname "$rustc"):$PATH"
    read -r -a XENT_WASM_RUSTFLAGS <<<"$fflags"
    XENT_WASM_DESC="rustup $("$rustc" -V | cut -d' ' -f2) ($(dirname "$rustc")), prebuilt $XENT_WASM_TARGET core, $flavour"
}

_xent_setup_debian() {
    local flavour="$1" fflags bin rustc cargo vv release commit llvm src linker="" l cache dir stamp
    local -a flagv
    fflags="$(_xent_flavour_flags "$flavour")" || return 1
    bin="${XENT_DEBIAN_RUST_BIN:-/usr/bin}"
    rustc="$bin/rustc"
    cargo="$bin/cargo"
    if [[ ! -x "$rustc" ]]; then
        _xent_err "no $XENT_WASM_TARGET toolchain: rustup has no $XENT_WASM_TARGET target and Debian's rustc is missing ($rustc). Install: apt-get install rustc-web cargo-web rust-web-src lld-22 (or: rustup target add $XENT_WASM_TARGET)"
        return 1
    fi
    [[ -x "$cargo" ]] || { _xent_err "Debian's cargo is missing ($cargo): apt-get install cargo-web"; return 1; }
    vv="$("$rustc" -vV)" || { _xent_err "$rustc -vV failed"; return 1; }
    release="$(sed -n 's/^release: //p' <<<"$vv")"
    commit="$(sed -n 's/^commit-hash: //p' <<<"$vv" | cut -c1-9)"
    llvm="$(sed -n 's/^LLVM version: \([0-9]*\).*/\1/p' <<<"$vv")"
    src="$("$rustc" --print sysroot)/lib/rustlib/src/rust/library"
    if [[ ! -f "$src/core/Cargo.toml" || ! -f "$src/compiler-builtins/compiler-builtins/Cargo.toml" ]]; then
        _xent_err "Rust library sources missing under $src: apt-get install rust-web-src"
        return 1
    fi
    # A wasm linker; prefer the lld matching rustc's LLVM (Debian's rustc may not ship rust-lld).
    for l in "$bin/wasm-ld-$llvm" "$(command -v "wasm-ld-$llvm" 2>/dev/null || true)" \
        "$bin/wasm-ld" "$(command -v wasm-ld 2>/dev/null || true)" "$bin/rust-lld"; do
        if [[ -n "$l" && -x "$l" ]]; then linker="$l"; break; fi
    done
    if [[ -z "$linker" ]]; then
        _xent_err "no wasm linker (wasm-ld-$llvm / wasm-ld / rust-lld): apt-get install lld-$llvm"
        return 1
    fi

    cache="$XENT_WASM_ROOT/target/wasm-sysroot"
    dir="$cache/$release-$commit-r$_XENT_SYSROOT_RECIPE-$flavour"
    stamp="recipe=$_XENT_SYSROOT_RECIPE; $(head -n1 <<<"$vv"); flags=$fflags"
    if [[ ! -f "$dir/.stamp" || "$(cat "$dir/.stamp")" != "$stamp" ]]; then
        _xent_build_sysroot "$dir" "$stamp" "$fflags" "$bin" "$rustc" "$cargo" "$src" "$flavour" || return 1
    fi

    XENT_WASM_KIND=debian
    XENT_WASM_RUSTC="$rustc"
    XENT_WASM_CARGO="$cargo"
    XENT_WASM_PATH="$bin:$PATH"
    XENT_WASM_RUSTFLAGS=(--sysroot "$dir" -C "linker=$linker")
    read -r -a flagv <<<"$fflags"
    XENT_WASM_RUSTFLAGS+=("${flagv[@]}")
    XENT_WASM_DESC="debian rustc $release ($bin), sysroot ${dir#"$XENT_WASM_ROOT"/}, linker $linker, $flavour"
}

# Builds core + compiler_builtins for wasm32 from the vendored sources into <dir>/lib/rustlib/.
# Runs in a subshell (set -e there, nothing leaks into a sourcing shell); locked against a
# concurrent build of the same checkout; the result appears atomically.
_xent_build_sysroot() (
    set -euo pipefail
    dir="$1" stamp="$2" fflags="$3" bin="$4" rustc="$5" cargo="$6" src="$7" flavour="$8"
    cache="$(dirname "$dir")"
    mkdir -p "$cache"
    if command -v flock >/dev/null; then
        exec 9>"$cache/.lock"
        flock 9
        # Someone else may have built it while we waited.
        if [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" ]]; then exit 0; fi
    fi
    tmp="$(mktemp -d "$cache/.tmp-$flavour.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    out="$tmp/out"
    pkg="$out/pkg"
    lib="$out/lib/rustlib/$XENT_WASM_TARGET/lib"
    mkdir -p "$pkg/src" "$lib"
    cat >"$pkg/Cargo.toml" <<EOF
# Generated by scripts/wasm-toolchain.sh: builds a $XENT_WASM_TARGET sysroot ($flavour) offline.
[package]
name = "xent-wasm-sysroot"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "src/lib.rs"

[dependencies]
core = { path = "$src/core" }
compiler_builtins = { path = "$src/compiler-builtins/compiler-builtins", features = ["compiler-builtins", "mem"] }

[profile.release]
opt-level = 3
debug = false
codegen-units = 1
panic = "abort"

# As upstream: one object per intrinsic.
[profile.release.package.compiler_builtins]
codegen-units = 10000

[workspace]
EOF
    echo '#![no_std]' >"$pkg/src/lib.rs"
    read -r -a ff <<<"-Zforce-unstable-if-unmarked -C embed-bitcode=yes $fflags"
    encoded="$(IFS=$'\x1f'; echo "${ff[*]}")"
    echo "wasm-toolchain: building the $flavour $XENT_WASM_TARGET sysroot (core, compiler_builtins) with $rustc, once (~25 s) -> ${dir#"$XENT_WASM_ROOT"/}"
    t0=$SECONDS
    if ! (cd "$pkg" && env -u RUSTFLAGS -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_BUILD_TARGET \
        -u CARGO_BUILD_RUSTFLAGS -u RUSTUP_TOOLCHAIN \
        PATH="$bin:$PATH" RUSTC="$rustc" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$tmp/target" \
        CARGO_ENCODED_RUSTFLAGS="$encoded" \
        "$cargo" build --release --offline --target "$XENT_WASM_TARGET" >"$out/build.log" 2>&1); then
        tail -n 40 "$out/build.log" >&2
        echo "wasm-toolchain: error: building the $flavour sysroot failed (log above)" >&2
        exit 1
    fi
    for name in core compiler_builtins; do
        rlibs=("$tmp/target/$XENT_WASM_TARGET/release/deps/lib$name-"*.rlib)
        if [[ ${#rlibs[@]} -ne 1 || ! -f "${rlibs[0]}" ]]; then
            echo "wasm-toolchain: error: expected one lib$name-*.rlib after the sysroot build, found: ${rlibs[*]}" >&2
            exit 1
        fi
        cp "${rlibs[0]}" "$lib/"
    done
    echo "$stamp" >"$out/.stamp"
    rm -rf "$dir"
    mv "$out" "$dir"
    echo "wasm-toolchain: sysroot $flavour built in $((SECONDS - t0)) s"
)

xent_wasm_toolchain() {
    local flavour="${1:-}" choice="${XENT_WASM_TOOLCHAIN:-auto}"
    [[ -n "$flavour" ]] || { _xent_err "usage: xent_wasm_toolchain simd128|mvp"; return 1; }
    case "$choice" in
        rustup) _xent_setup_rustup "$flavour" ;;
        debian) _xent_setup_debian "$flavour" ;;
        auto)
            if _xent_rustup_has_wasm; then
                _xent_setup_rustup "$flavour"
            else
                _xent_setup_debian "$flavour"
            fi
            ;;
        *) _xent_err "XENT_WASM_TOOLCHAIN must be auto, rustup or debian (got '$choice')"; return 1 ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    [[ $# -gt 0 ]] || set -- simd128 mvp
    for f in "$@"; do
        xent_wasm_toolchain "$f"
        echo "wasm-toolchain: $XENT_WASM_DESC"
    done
fi

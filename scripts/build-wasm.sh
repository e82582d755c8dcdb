#!/usr/bin/env bash
# Builds the WebAssembly modules from crates/xent-abi, side by side:
#   build/wasm/xent-simd.wasm          wasm SIMD (simd128)
#   build/wasm/xent.wasm               portable WebAssembly 1.0 (target-cpu=mvp), for engines without SIMD
#   build/wasm/xent-simd-relaxed.wasm  simd128 + relaxed-simd (f32x4.relaxed_madd), an opt-in faster
#                                      variant that is not bit-identical to the others
#   build/wasm/xent-simd-threads.wasm  simd128 + atomics, importing a SHARED memory, for worker threads
#                                      (each worker sets its own __stack_pointer; Debian toolchain only:
#                                      rustup's prebuilt core is not built with atomics)
# then verifies each: wabt's wasm-validate with only the features of its flavour (the portable one:
# none, so no SIMD nor any other post-MVP instruction; with rustup's prebuilt core, which is not
# built for the MVP, only SIMD is an error and the rest a warning), then scripts/verify-wasm.mjs
# with node (it compiles, imports only env.memory (<= 2 pages initial, as the TypeScript loader
# provides), exports the ABI, fits stack + data in 2 pages).
# Toolchain: scripts/wasm-toolchain.sh (rustup's wasm32 target if installed, else Debian's).
#
# Cached: it does nothing when build/wasm.stamp (beside build/wasm/) records the same inputs, by
# content hash, not mtime: every file under crates/ (but target dirs), Cargo.toml, Cargo.lock,
# this script, scripts/wasm-toolchain.sh and scripts/verify-wasm.mjs, each flavour's toolchain
# description and `rustc -vV`, wabt's and node's versions; and the modules still have the
# recorded bytes. rustfmt.toml and clippy.toml do not change the modules, so they are not inputs.
# --force (or XENT_FORCE_BUILD=1) rebuilds anyway.
# Output: one line per module; --verbose (or XENT_VERBOSE=1, or `npm run ... --verbose`) prints
# the toolchain and every verification step.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/wasm-toolchain.sh
source scripts/wasm-toolchain.sh

# shellcheck source=scripts/build-flags.sh
source scripts/build-flags.sh
xent_build_flags build-wasm "$@"
# Prints only with --verbose.
info() { if ((VERBOSE)); then echo "$@"; fi; }

# Memory layout, shared with ts/ (new WebAssembly.Memory({initial: 2, maximum: 65536})).
PAGE=65536
STACK_SIZE=65536
INITIAL_PAGES=2
LINK_ARGS=(
    -C link-arg=--import-memory
    -C "link-arg=-zstack-size=$STACK_SIZE"
    -C "link-arg=--initial-memory=$((INITIAL_PAGES * PAGE))"
    -C link-arg=--export=__heap_base
)
OUT_DIR=build/wasm
STAMP=build/wasm.stamp

command -v node >/dev/null || { echo "build-wasm: error: node is required (to verify the modules) and was not found on PATH" >&2; exit 1; }
command -v wasm-validate >/dev/null && command -v wasm-objdump >/dev/null ||
    { echo "build-wasm: error: wabt's wasm-validate and wasm-objdump are required (to verify the modules): install wabt (scripts/setup.sh does)" >&2; exit 1; }
mkdir -p "$OUT_DIR"

# The threads build: a shared memory (up to 4 GiB), and __stack_pointer exported so that each
# worker's instance can be given its own stack.
THREAD_LINK_ARGS=(
    -C link-arg=--shared-memory
    -C link-arg=--max-memory=4294967296
    -C link-arg=--export=__stack_pointer
)

# ---- The cache --------------------------------------------------------------------------
# The toolchain of each flavour (cheap once the sysroots exist; building them is part of a build).
toolchains=""
for flavour in simd128 mvp threads relaxed; do
    if [[ $flavour == threads ]] && ! xent_wasm_toolchain threads 2>/dev/null; then continue; fi
    xent_wasm_toolchain "$flavour" || exit 1
    toolchains+="$flavour: $XENT_WASM_DESC; $("$XENT_WASM_RUSTC" -vV | tr '\n' ' ')"$'\n'
done
inputs_hash() {
    {
        find crates -type d -name target -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        sha256sum Cargo.toml Cargo.lock scripts/build-wasm.sh scripts/wasm-toolchain.sh scripts/verify-wasm.mjs
        printf '%s' "$toolchains"
        wasm-validate --version
        node --version
    } | sha256sum | cut -c1-64
}
hash="$(inputs_hash)"
if ((!FORCE)) && [[ -f $STAMP && "$(head -n1 "$STAMP")" == "inputs $hash" ]] &&
    tail -n +2 "$STAMP" | sha256sum --check --status 2>/dev/null; then
    echo "build-wasm: $OUT_DIR/ up to date ($(($(wc -l <"$STAMP") - 1)) modules; same inputs, sha256 ${hash:0:12})"
    exit 0
fi
rm -f "$STAMP"

verify_args=()
for flavour in simd128 mvp threads relaxed; do
    case "$flavour" in
        simd128) out="$OUT_DIR/xent-simd.wasm" ;;
        mvp) out="$OUT_DIR/xent.wasm" ;;
        threads) out="$OUT_DIR/xent-simd-threads.wasm" ;;
        relaxed) out="$OUT_DIR/xent-simd-relaxed.wasm" ;;
    esac
    if [[ $flavour == threads ]] && ! xent_wasm_toolchain threads 2>/dev/null; then
        echo "build-wasm: skipping $out: the threads build needs a core built with atomics (Debian's toolchain; XENT_WASM_TOOLCHAIN=debian)" >&2
        continue
    fi
    xent_wasm_toolchain "$flavour" || exit 1
    if [[ $flavour == threads && $XENT_WASM_KIND != debian ]]; then
        echo "build-wasm: skipping $out: rustup's prebuilt core has no atomics (use XENT_WASM_TOOLCHAIN=debian)" >&2
        continue
    fi
    info "build-wasm: $out <- crates/xent-abi [$XENT_WASM_DESC]"
    flags=("${XENT_WASM_RUSTFLAGS[@]}" "${LINK_ARGS[@]}")
    [[ $flavour == threads ]] && flags+=("${THREAD_LINK_ARGS[@]}")
    encoded="$(IFS=$'\x1f'; echo "${flags[*]}")"
    target_dir="$root/target/wasm-build/$flavour"
    # One target dir per flavour: the flags differ, so sharing one would rebuild every time.
    # cargo's messages (e.g. rustc's note that `atomics` is unstable) only with --verbose or on failure.
    cargo_log="$(mktemp)"
    env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_BUILD_TARGET \
        PATH="$XENT_WASM_PATH" RUSTC="$XENT_WASM_RUSTC" CARGO_TARGET_DIR="$target_dir" \
        CARGO_ENCODED_RUSTFLAGS="$encoded" \
        "$XENT_WASM_CARGO" build --quiet --release --offline --target "$XENT_WASM_TARGET" -p xent-abi --lib 2>"$cargo_log" ||
        { cat "$cargo_log" >&2; rm -f "$cargo_log"; echo "build-wasm: error: cargo build of the $flavour module failed" >&2; exit 1; }
    if ((VERBOSE)); then cat "$cargo_log" >&2; fi
    rm -f "$cargo_log"
    artifact="$target_dir/$XENT_WASM_TARGET/release/xent_abi.wasm"
    [[ -f "$artifact" ]] || { echo "build-wasm: error: cargo produced no $artifact (is xent-abi still a cdylib?)" >&2; exit 1; }
    cp "$artifact" "$out.tmp"
    mv "$out.tmp" "$out"
    verify_args+=("$out" "$flavour" "$XENT_WASM_KIND")
done

# ---- Verification ------------------------------------------------------------------------
# 1. wabt's validator, with exactly the features each flavour may use: it checks every instruction
#    and type (and the module's structure) against them, so the portable module has no SIMD nor any
#    other post-MVP instruction, and only the threads build has atomics or a shared memory.
# 2. scripts/verify-wasm.mjs, with node: what wabt cannot express (imports, exports, memory limits,
#    __heap_base, that V8 compiles it); its header lists the checks.

# wabt enables some post-MVP features by default (1.0.32: mutable globals, saturating float-to-int,
# sign extension, SIMD, multi-value, bulk memory, reference types), each with a --disable-<feature>
# option: the portable module must validate with all of them off. Read from --help, so that a newer
# wabt's defaults are disabled too.
mapfile -t MVP_ONLY < <(wasm-validate --help | grep -oE -- '--disable-[a-z0-9-]+' | sort -u)
[[ " ${MVP_ONLY[*]} " == *" --disable-simd "* ]] ||
    { echo "build-wasm: error: found no --disable-simd in 'wasm-validate --help': cannot check the portable module" >&2; exit 1; }

# The wasm-validate options of a flavour, in the array `features`.
flavour_features() {
    case "$1" in
        mvp) features=("${MVP_ONLY[@]}") ;;
        simd128) features=() ;; # wabt's defaults: SIMD, bulk memory, ...; no relaxed SIMD, no atomics
        relaxed) features=(--enable-relaxed-simd) ;;
        threads) features=(--enable-threads) ;;
    esac
}

# For the log: the post-MVP features a module uses, i.e. those without which it no longer validates.
features_used() {
    local file="$1" f g used=() enables=() others=()
    for f in "${features[@]}"; do if [[ $f == --enable-* ]]; then enables+=("$f"); fi; done
    for f in "${MVP_ONLY[@]}"; do
        wasm-validate "${enables[@]}" "$f" "$file" 2>/dev/null || used+=("${f#--disable-}")
    done
    for f in "${enables[@]}"; do
        others=()
        for g in "${enables[@]}"; do if [[ $g != "$f" ]]; then others+=("$g"); fi; done
        wasm-validate "${others[@]}" "$file" 2>/dev/null || used+=("${f#--enable-}")
    done
    echo "${used[*]:-none}"
}

# Node 20's V8 has relaxed SIMD behind a flag (later versions ship it and may drop the flag).
node_flags=()
node --v8-options 2>/dev/null | grep -q -- '--experimental-wasm-relaxed-simd' && node_flags+=(--experimental-wasm-relaxed-simd)
info "build-wasm: verifying with $(wasm-validate --version | sed 's/^/wabt /') and node $(node --version) ${node_flags[*]}"
failures=0
for ((i = 0; i < ${#verify_args[@]}; i += 3)); do
    file="${verify_args[i]}" flavour="${verify_args[i + 1]}" kind="${verify_args[i + 2]}"
    flavour_features "$flavour"
    required=("${features[@]}")
    # rustup's prebuilt core is not built for the MVP and may bring bulk memory, sign extension, ...:
    # with it, only SIMD in the portable module is an error, the rest a warning.
    [[ $flavour == mvp && $kind == rustup ]] && required=(--disable-simd)
    if ! wasm-validate "${required[@]}" "$file"; then
        echo "build-wasm: error: $file: wasm-validate ${required[*]:-with the default features} rejects it (see above)" >&2
        failures=$((failures + 1))
        continue
    fi
    if ((VERBOSE)); then
        echo "build-wasm: $file: wasm-validate ${required[*]:-with the default features}: valid; post-MVP features used: $(features_used "$file")"
    fi
    if [[ $flavour == mvp && $kind == rustup ]] && ! wasm-validate "${features[@]}" "$file" 2>/dev/null; then
        echo "build-wasm: warning: $file uses post-MVP features besides SIMD (from rustup's prebuilt core)"
    fi
    # A SIMD flavour that validates without SIMD (or relaxed SIMD) has lost its vector code.
    if [[ $flavour != mvp ]] && wasm-validate --disable-simd "${features[@]}" "$file" 2>/dev/null; then
        echo "build-wasm: warning: $file contains no SIMD instruction"
    fi
    if [[ $flavour == relaxed ]] && wasm-validate "$file" 2>/dev/null; then
        echo "build-wasm: warning: $file contains no relaxed-SIMD instruction"
    fi
    # Its errors go to stderr; its summary (stdout) only with --verbose.
    if ((VERBOSE)); then
        node "${node_flags[@]}" scripts/verify-wasm.mjs --flavour "$flavour" --initial-pages "$INITIAL_PAGES" "$file"
    else
        node "${node_flags[@]}" scripts/verify-wasm.mjs --flavour "$flavour" --initial-pages "$INITIAL_PAGES" "$file" >/dev/null
    fi || { failures=$((failures + 1)); continue; }
    echo "build-wasm: $file ($(($(wc -c <"$file") / 1024)) KiB, $flavour): built and verified"
done
((failures == 0)) || { echo "build-wasm: error: $failures module(s) failed verification (see above)" >&2; exit 1; }

# Recorded only after a complete, verified build.
{
    echo "inputs $hash"
    for ((i = 0; i < ${#verify_args[@]}; i += 3)); do sha256sum "${verify_args[i]}"; done
} >"$STAMP"


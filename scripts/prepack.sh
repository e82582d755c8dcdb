#!/usr/bin/env bash
# `npm pack` / `npm publish` (the prepack script): builds dist/, which the package ships and git does
# not hold, from source (cached: nothing is rebuilt when the inputs are unchanged, see
# scripts/build-wasm.sh and scripts/build-ts.sh). Without the toolchain it fails, naming what is
# missing, rather than pack a package with no code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "prepack: error: $*" >&2
    echo "prepack: error: nothing was packed: the package's code (dist/) is built from source, and that build could not run" >&2
    exit 1
}

[[ -x node_modules/.bin/rollup ]] ||
    die "node_modules/.bin/rollup is missing: run \`npm ci\` (the build needs the devDependencies)"
command -v wasm-validate >/dev/null && command -v wasm-objdump >/dev/null ||
    die "wabt's wasm-validate and wasm-objdump are missing (the build verifies the modules with them): \`apt-get install wabt\`, or \`bash scripts/setup.sh\`"
(
    # shellcheck source=scripts/wasm-toolchain.sh
    source scripts/wasm-toolchain.sh
    xent_wasm_toolchain mvp
) || die "no Rust toolchain for wasm32-unknown-unknown (the wasm-toolchain error above says which part): \`bash scripts/setup.sh\` installs Debian's (rustc-web cargo-web rust-web-src lld-22), or \`rustup target add wasm32-unknown-unknown\`"

bash scripts/build-wasm.sh || die "scripts/build-wasm.sh failed (see above)"
bash scripts/build-ts.sh || die "scripts/build-ts.sh failed (see above)"

missing=()
for f in index.mjs index.cjs index.d.mts index.d.cts tfjs.mjs tfjs.cjs inline.mjs inline.cjs worker.mjs cli.mjs \
    xent-simd.wasm xent.wasm; do
    [[ -f dist/$f ]] || missing+=("dist/$f")
done
((${#missing[@]} == 0)) || die "the build left out ${missing[*]}"

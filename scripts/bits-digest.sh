#!/usr/bin/env bash
# Bit-identity digest of dist/ (see scripts/bits-digest/digest.ts): run it before and after a
# kernel change that must not change a result, and compare the digests.
#   bash scripts/bits-digest.sh [--dist DIR] [--cases FILE] [--compare FILE] [--fuzz N] [--score N]
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
# Node 20 needs this V8 flag for the relaxed-SIMD build (a Node that does not know it would refuse to start).
if node --v8-options | grep -q -- '--experimental-wasm-relaxed-simd'; then flags+=(--experimental-wasm-relaxed-simd); fi
exec node "${flags[@]}" node_modules/vite-node/vite-node.mjs -c scripts/bits-digest/vite.config.mjs \
  scripts/bits-digest/digest.ts -- "$@"

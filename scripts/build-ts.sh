#!/usr/bin/env bash
# Bundles ts/ into dist/ with rollup (rollup.config.mjs), from the modules in build/wasm/.
#
# Cached: it does nothing when build/ts.stamp records the same inputs, by content hash, not mtime:
# every file under ts/, rollup.config.mjs, scripts/rollup-inline.mjs, this script, tsconfig.json,
# package-lock.json (the versions of rollup, its plugins and TypeScript), build/wasm/*.wasm and
# node's version; and dist/ still holds the recorded files with the recorded bytes.
# --force (or XENT_FORCE_BUILD=1) rebuilds anyway. A rebuild empties dist/ first, so that no file
# of an older build is left to be packed.
# Output: one line per file of dist/; --verbose (or XENT_VERBOSE=1, or `npm run ... --verbose`)
# prints rollup's own output too. rollup's warnings are always printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/build-flags.sh
source scripts/build-flags.sh
xent_build_flags build-ts "$@"

rollup=node_modules/.bin/rollup
[[ -x $rollup ]] || { echo "build-ts: error: $rollup is missing: run npm ci (rollup is a devDependency)" >&2; exit 1; }
compgen -G 'build/wasm/*.wasm' >/dev/null ||
    { echo "build-ts: error: build/wasm/ has no .wasm: run npm run build:wasm first" >&2; exit 1; }

STAMP=build/ts.stamp
inputs_hash() {
    {
        find ts -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        sha256sum rollup.config.mjs scripts/rollup-inline.mjs scripts/build-ts.sh tsconfig.json \
            package-lock.json build/wasm/*.wasm
        node --version
    } | sha256sum | cut -c1-64
}
hash="$(inputs_hash)"
if ((!FORCE)) && [[ -f $STAMP && -d dist && "$(head -n1 "$STAMP")" == "inputs $hash" ]] &&
    tail -n +2 "$STAMP" | sha256sum --check --status 2>/dev/null &&
    [[ "$(find dist -type f | wc -l)" -eq "$(($(wc -l <"$STAMP") - 1))" ]]; then
    echo "build-ts: dist/ up to date ($(($(wc -l <"$STAMP") - 1)) files; same inputs, sha256 ${hash:0:12})"
    exit 0
fi
rm -f "$STAMP"
rm -rf dist

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "$rollup" -c >"$log" 2>&1; then
    cat "$log" >&2
    echo "build-ts: error: rollup -c failed (see above)" >&2
    exit 1
fi
if ((VERBOSE)); then
    cat "$log"
elif grep -q '^(!)' "$log"; then
    # Warnings: rollup prints "(!) <title>" then details, up to the next blank line.
    awk '/^\(!\)/{w=1} w{print} /^$/{w=0}' "$log" >&2
fi
while IFS= read -r f; do
    echo "build-ts: $f ($(($(wc -c <"$f") / 1024)) KiB)"
done < <(find dist -type f | LC_ALL=C sort)

{
    echo "inputs $hash"
    find dist -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
} >"$STAMP"

#!/usr/bin/env bash
# Type-checks every TypeScript program of the repository, and reports on all of them even when one
# fails:
#   tsc -p .        ts/, test/ and vitest.config.ts (tsconfig.json)
#   tsc -p bench    bench/: JavaScript with JSDoc types; needs no bench dependency installed
#   tsc -p demo     demo/: JavaScript with JSDoc types, the Node scripts and the page
#   tsc -p scripts  scripts/*.mjs and rollup.config.mjs (JavaScript with JSDoc types), scripts/*.ts,
#                   scripts/bits-digest/*.ts
# demo/ imports the built package (../dist/index.mjs), so its types come from dist/*.d.mts: build
# them first (npm run build:ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tsc=node_modules/.bin/tsc
[[ -x $tsc ]] || { echo "typecheck: error: $tsc is missing: run npm ci" >&2; exit 1; }
[[ -f dist/index.d.mts && -f dist/tfjs.d.mts ]] ||
    { echo "typecheck: error: dist/index.d.mts or dist/tfjs.d.mts is missing: demo/ imports the built package (npm run build:ts)" >&2; exit 1; }

failed=()
for project in . bench demo scripts; do
    echo "typecheck: tsc -p $project"
    "$tsc" -p "$project" || failed+=("$project")
done
if ((${#failed[@]})); then
    echo "typecheck: error: type errors in: ${failed[*]}" >&2
    exit 1
fi
echo "typecheck: ok (., bench, demo, scripts)"

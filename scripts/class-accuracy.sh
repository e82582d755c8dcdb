#!/usr/bin/env bash
# Accuracy of crossEntropy against the float64 reference as the class count grows (see
# scripts/class-accuracy.ts):  bash scripts/class-accuracy.sh [--dist DIR] [--classes 2,300] [--seeds N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec node node_modules/vite-node/vite-node.mjs -c scripts/bits-digest/vite.config.mjs scripts/class-accuracy.ts -- "$@"

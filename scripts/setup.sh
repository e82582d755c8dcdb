#!/usr/bin/env bash
# Everything a fresh machine needs before `npm start` or `npm test`, installed only if missing:
#   1. Debian packages: the offline wasm32 Rust toolchain, Rust's linters, wabt (and chromium for
#      the browser tests)
#   2. npm ci
# Idempotent and quick when everything is there. Installing Debian packages needs root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

step() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# ---- 1. System packages -------------------------------------------------------------------
# rustc-web, cargo-web: Debian's Rust 1.96 (host std; no wasm32 std, see scripts/wasm-toolchain.sh)
# rust-web-src: the library sources the wasm32 sysroot is built from (offline: crates.io is out
# of reach); lld-22: wasm-ld, the linker for LLVM 22.
APT_PACKAGES=(rustc-web cargo-web rust-web-src lld-22)

# rust-web-clippy, rustfmt-web: Debian's clippy and rustfmt for that rustc; the lint step falls back
# to them where rustup has no clippy or rustfmt component.
APT_PACKAGES+=(rust-web-clippy rustfmt-web)

# wabt: wasm-validate and wasm-objdump, which scripts/build-wasm.sh checks the built modules with.
APT_PACKAGES+=(wabt)

# chromium: the browser tests (test/browser/) drive Debian's chromium with playwright-core.
APT_PACKAGES+=(chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing Debian packages (${missing[*]}) and not root to install them"
    step "apt-get install ${missing[*]}"
    apt-get update -qq || die "apt-get update failed"
    log="$(mktemp)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
        { tail -n 30 "$log" >&2; die "apt-get install ${missing[*]} failed"; }
    rm -f "$log"
else
    step "Debian packages present: ${APT_PACKAGES[*]}"
fi

command -v node >/dev/null || die "node is not installed (package.json requires node >= 18)"
command -v npm >/dev/null || die "npm is not installed"
step "node $(node --version), npm $(npm --version)"

# ---- 2. JS dependencies -------------------------------------------------------------------
[[ -f package-lock.json ]] || die "package-lock.json is missing: npm ci needs it"
if [[ -d node_modules && node_modules/.package-lock.json -nt package-lock.json ]]; then
    step "node_modules up to date"
else
    step "npm ci"
    npm ci --no-audit --no-fund
fi

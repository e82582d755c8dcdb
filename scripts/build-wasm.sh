#!/usr/bin/env bash
# Builds the WebAssembly modules from crates/xent-abi, side by side:
#   build/wasm/xent-simd.wasm          wasm SIMD (simd128)
#   build/wasm/xent.wasm               portable WebAssembly 1.0 (target-cpu=mvp), for engines without SIMD
#   build/wasm/xent-simd-relaxed.wasm  simd128 + relaxed-simd (f32x4.relaxed_madd), an opt-in faster
#                                      variant that is not bit-identical to the others
#   build/wasm/xent-simd-threads.wasm  simd128 + atomics, importing a SHARED memory, for worker threads
#                                      (each worker sets its own __stack_pointer; Debian toolchain only:
#                                      rustup's prebuilt core is not built with atomics)
# then checks both with node: they compile, import only env.memory (<= 2 pages initial, as the
# TypeScript loader provides), export the ABI, fit stack + data in 2 pages, and the portable one
# contains no SIMD (nor any other post-MVP instruction) by decoding every instruction.
# Toolchain: scripts/wasm-toolchain.sh (rustup's wasm32 target if installed, else Debian's).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/wasm-toolchain.sh
source scripts/wasm-toolchain.sh

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

command -v node >/dev/null || { echo "build-wasm: error: node is required (to verify the modules) and was not found on PATH" >&2; exit 1; }
mkdir -p "$OUT_DIR"

# The threads build: a shared memory (up to 4 GiB), and __stack_pointer exported so that each
# worker's instance can be given its own stack.
THREAD_LINK_ARGS=(
    -C link-arg=--shared-memory
    -C link-arg=--max-memory=4294967296
    -C link-arg=--export=__stack_pointer
)

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
    echo "build-wasm: $out <- crates/xent-abi [$XENT_WASM_DESC]"
    flags=("${XENT_WASM_RUSTFLAGS[@]}" "${LINK_ARGS[@]}")
    [[ $flavour == threads ]] && flags+=("${THREAD_LINK_ARGS[@]}")
    encoded="$(IFS=$'\x1f'; echo "${flags[*]}")"
    target_dir="$root/target/wasm-build/$flavour"
    # One target dir per flavour: the flags differ, so sharing one would rebuild every time.
    env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_BUILD_TARGET \
        PATH="$XENT_WASM_PATH" RUSTC="$XENT_WASM_RUSTC" CARGO_TARGET_DIR="$target_dir" \
        CARGO_ENCODED_RUSTFLAGS="$encoded" \
        "$XENT_WASM_CARGO" build --quiet --release --offline --target "$XENT_WASM_TARGET" -p xent-abi --lib ||
        { echo "build-wasm: error: cargo build of the $flavour module failed" >&2; exit 1; }
    artifact="$target_dir/$XENT_WASM_TARGET/release/xent_abi.wasm"
    [[ -f "$artifact" ]] || { echo "build-wasm: error: cargo produced no $artifact (is xent-abi still a cdylib?)" >&2; exit 1; }
    cp "$artifact" "$out.tmp"
    mv "$out.tmp" "$out"
    verify_args+=("$out" "$flavour" "$XENT_WASM_KIND")
done

# Node 20's V8 has relaxed SIMD behind a flag (later versions ship it and may drop the flag).
node_flags=()
node --v8-options 2>/dev/null | grep -q -- '--experimental-wasm-relaxed-simd' && node_flags+=(--experimental-wasm-relaxed-simd)
echo "build-wasm: verifying with node $(node --version) ${node_flags[*]}"
node "${node_flags[@]}" - "$INITIAL_PAGES" "${verify_args[@]}" <<'JS'
'use strict';
const fs = require('fs');

// ---- A decoder for the WebAssembly binary format: walks every section and every instruction,
// and records which post-MVP features the module uses. Unknown encodings throw (fail closed).
function scan(bytes) {
  const used = new Map(); // feature -> occurrences
  const use = (f) => used.set(f, (used.get(f) || 0) + 1);
  let p = 0;
  const fail = (msg) => { throw new Error(`${msg} at byte ${p}`); };
  const u8 = () => (p < bytes.length ? bytes[p++] : fail('unexpected end'));
  const leb = (signed, bits) => {
    let result = 0n, shift = 0n, b;
    do {
      b = u8();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (shift > BigInt(bits) + 7n) fail('LEB too long');
    } while (b & 0x80);
    if (signed && shift < 64n && (b & 0x40)) result -= 1n << shift;
    return Number(result);
  };
  const u32 = () => leb(false, 32);
  const skip = (n) => { if (p + n > bytes.length) fail('unexpected end'); p += n; };
  const name = () => { const n = u32(); const s = Buffer.from(bytes.subarray(p, p + n)).toString('utf8'); skip(n); return s; };
  const vec = (f) => { const n = u32(); const r = []; for (let i = 0; i < n; i++) r.push(f()); return r; };
  const zeroByte = (what) => { if (u8() !== 0) use(`non-zero/overlong ${what} (reference-types/multi-memory)`); };
  const valtype = () => {
    const t = u8();
    if (t >= 0x7c && t <= 0x7f) return t;
    if (t === 0x7b) { use('simd128 (v128 type)'); return t; }
    if (t === 0x70 || t === 0x6f) { use('reference-types (ref type)'); return t; }
    fail(`unknown value type 0x${t.toString(16)}`);
  };
  // Table element type: funcref is MVP, externref is not.
  const reftype = () => { const t = u8(); if (t === 0x6f) use('reference-types (externref table)'); else if (t !== 0x70) fail(`bad table type 0x${t.toString(16)}`); };
  const limits = () => {
    const flag = u8();
    if (flag > 1) use(`limits flag ${flag} (threads/memory64)`);
    const min = u32();
    const max = flag & 1 ? u32() : undefined;
    return { min, max, flag };
  };
  const memarg = () => { const align = u32(); if (align >= 64) use('multi-memory (memarg)'); u32(); };
  const blocktype = () => {
    const b = bytes[p];
    if (b === 0x40) { p++; return; }
    if ((b >= 0x7b && b <= 0x7f) || b === 0x70 || b === 0x6f) { valtype(); return; }
    if (leb(true, 33) < 0) fail('bad block type');
    use('multi-value (block type index)');
  };
  const counts = { instructions: 0, simd: 0 };
  // One expression: instructions up to the `end` that closes it.
  const expr = () => {
    let depth = 0;
    for (;;) {
      const op = u8();
      counts.instructions++;
      if (op === 0x02 || op === 0x03 || op === 0x04) { blocktype(); depth++; }
      else if (op === 0x0b) { if (depth-- === 0) return; }
      else if (op <= 0x01 || op === 0x05 || op === 0x0f || op === 0x1a || op === 0x1b) {}
      else if (op === 0x0c || op === 0x0d || op === 0x10) u32();
      else if (op === 0x0e) { vec(u32); u32(); }
      else if (op === 0x11) { u32(); zeroByte('call_indirect table'); }
      else if (op === 0x12) { use('tail-call'); u32(); }
      else if (op === 0x13) { use('tail-call'); u32(); u32(); }
      else if (op === 0x1c) { use('reference-types (typed select)'); vec(valtype); }
      else if (op >= 0x20 && op <= 0x24) u32();
      else if (op === 0x25 || op === 0x26) { use('reference-types (table.get/set)'); u32(); }
      else if (op >= 0x28 && op <= 0x3e) memarg();
      else if (op === 0x3f || op === 0x40) zeroByte('memory index');
      else if (op === 0x41) leb(true, 32);
      else if (op === 0x42) leb(true, 64);
      else if (op === 0x43) skip(4);
      else if (op === 0x44) skip(8);
      else if (op >= 0x45 && op <= 0xbf) {}
      else if (op >= 0xc0 && op <= 0xc4) use('sign-ext');
      else if (op === 0xd0) { use('reference-types (ref.null)'); u8(); }
      else if (op === 0xd1) use('reference-types (ref.is_null)');
      else if (op === 0xd2) { use('reference-types (ref.func)'); u32(); }
      else if (op === 0xfc) {
        const sub = u32();
        if (sub <= 7) use('nontrapping-fptoint');
        else if (sub === 8) { use('bulk-memory'); u32(); zeroByte('memory index'); }
        else if (sub === 9) { use('bulk-memory'); u32(); }
        else if (sub === 10) { use('bulk-memory'); zeroByte('memory index'); zeroByte('memory index'); }
        else if (sub === 11) { use('bulk-memory'); zeroByte('memory index'); }
        else if (sub === 12 || sub === 14) { use('bulk-memory'); u32(); u32(); }
        else if (sub === 13) { use('bulk-memory'); u32(); }
        else if (sub >= 15 && sub <= 17) { use('reference-types (table ops)'); u32(); }
        else fail(`unknown opcode 0xfc ${sub}`);
      } else if (op === 0xfd) {
        const sub = u32();
        counts.simd++;
        use(sub >= 0x100 ? 'relaxed-simd' : 'simd128');
        if (sub <= 11 || sub === 92 || sub === 93) memarg();
        else if (sub === 12 || sub === 13) skip(16);
        else if (sub >= 21 && sub <= 34) skip(1);
        else if (sub >= 84 && sub <= 91) { memarg(); skip(1); }
        else if (sub > 0x113) fail(`unknown opcode 0xfd ${sub}`);
      } else if (op === 0xfe) {
        // threads: memory.atomic.notify/wait (0-2), atomic.fence (3), loads/stores/rmw (0x10-0x4e)
        const sub = u32();
        use('threads (atomics)');
        if (sub === 3) zeroByte('atomic.fence flags');
        else if (sub <= 2 || (sub >= 0x10 && sub <= 0x4e)) memarg();
        else fail(`unknown opcode 0xfe ${sub}`);
      } else fail(`unknown opcode 0x${op.toString(16)}`);
    }
  };

  if (u32le(bytes, 0) !== 0x6d736100 || u32le(bytes, 4) !== 1) fail('not a wasm v1 module');
  p = 8;
  const info = { memoryImport: null, globalMut: [], exports: [], sections: [] };
  while (p < bytes.length) {
    const id = u8();
    const size = u32();
    const end = p + size;
    if (end > bytes.length) fail('section overruns the module');
    if (id === 0) {
      const n = name();
      info.sections.push(`custom:${n}`);
      p = end;
      continue;
    }
    info.sections.push(id);
    switch (id) {
      case 1: vec(() => {
        if (u8() !== 0x60) fail('bad function type');
        vec(valtype);
        if (vec(valtype).length > 1) use('multi-value (results)');
      }); break;
      case 2: vec(() => {
        const mod = name(), field = name(), kind = u8();
        if (kind === 0) u32();
        else if (kind === 1) { reftype(); limits(); }
        else if (kind === 2) { const l = limits(); if (mod === 'env' && field === 'memory') info.memoryImport = l; }
        else if (kind === 3) { valtype(); const m = u8(); info.globalMut.push(m); if (m) use('mutable-globals (import)'); }
        else fail(`bad import kind ${kind}`);
      }); break;
      case 3: vec(u32); break;
      case 4: if (vec(() => { reftype(); limits(); }).length > 1) use('reference-types (tables)'); break;
      case 5: vec(limits); break;
      case 6: vec(() => { valtype(); info.globalMut.push(u8()); expr(); }); break;
      case 7: vec(() => {
        const n = name(), kind = u8(), idx = u32();
        info.exports.push(n);
        if (kind === 3 && info.globalMut[idx]) use('mutable-globals (export)');
      }); break;
      case 8: u32(); break;
      case 9: vec(() => {
        const flag = u32();
        if (flag !== 0) { use(`bulk-memory/reference-types (element segment form ${flag})`); p = end; return; }
        expr(); vec(u32);
      }); break;
      case 10: vec(() => {
        const bodySize = u32(), bodyEnd = p + bodySize;
        vec(() => { u32(); valtype(); });
        expr();
        if (p !== bodyEnd) fail('function body does not end where its size says');
      }); break;
      case 11: vec(() => {
        const flag = u32();
        if (flag === 1) use('bulk-memory (passive data)');
        else if (flag === 2) { use('multi-memory (data memory index)'); u32(); }
        else if (flag !== 0) fail(`bad data segment flag ${flag}`);
        if (flag !== 1) expr();
        skip(u32());
      }); break;
      case 12: use('bulk-memory (data count)'); u32(); break;
      default: fail(`unknown section id ${id}`);
    }
    if (p !== end) fail(`section ${id} does not end where its size says`);
  }
  return { used, counts, info };
}
function u32le(b, o) { return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0; }

// ---- The checks.
const [initialPages, ...rest] = process.argv.slice(2);
const PAGE = 65536;
const REQUIRED = { xent_abi_version: 'function', xent_simd: 'function', xent_cross_entropy: 'function', __heap_base: 'global' };
let failures = 0;
for (let i = 0; i < rest.length; i += 3) {
  const [file, flavour, kind] = rest.slice(i, i + 3);
  const errors = [];
  const err = (m) => errors.push(m);
  const bytes = new Uint8Array(fs.readFileSync(file));
  let line = `verify: ${file}: ${bytes.length} bytes (${(bytes.length / 1024).toFixed(1)} KiB)`;
  try {
    if (!WebAssembly.validate(bytes)) throw new Error('WebAssembly.validate() says invalid');
    const module = new WebAssembly.Module(bytes);
    const imports = WebAssembly.Module.imports(module);
    const exports = WebAssembly.Module.exports(module);
    const importList = imports.map((x) => `${x.module}.${x.name}:${x.kind}`);
    const shared = flavour === 'threads';
    if (importList.join() !== 'env.memory:memory') err(`imports must be exactly env.memory, got [${importList.join(', ')}]`);
    for (const [n, k] of Object.entries(REQUIRED)) {
      const e = exports.find((x) => x.name === n);
      if (!e) err(`missing export ${n}`); else if (e.kind !== k) err(`export ${n} is a ${e.kind}, expected a ${k}`);
    }
    const { used, counts, info } = scan(bytes);
    const mem = info.memoryImport;
    if (!mem) err('no env.memory import found by the decoder');
    else {
      if (mem.min > Number(initialPages)) err(`env.memory needs ${mem.min} pages initially; the loader provides ${initialPages}`);
      if (mem.max !== undefined && mem.max < 65536) err(`env.memory declares maximum ${mem.max} pages; the loader's Memory has maximum 65536`);
      if (!(mem.flag & 2) !== !shared) err(shared ? 'env.memory of the threads build is not shared' : 'env.memory is shared');
    }
    const memory = new WebAssembly.Memory({ initial: Number(initialPages), maximum: 65536, shared });
    if (shared && !exports.some((e) => e.name === '__stack_pointer' && e.kind === 'global')) err('the threads build does not export __stack_pointer');
    const inst = new WebAssembly.Instance(module, { env: { memory } });
    const x = inst.exports;
    const simd = x.xent_simd(), abi = x.xent_abi_version(), heapBase = x.__heap_base.value;
    const wantSimd = flavour === 'mvp' ? 0 : flavour === 'relaxed' ? 2 : 1;
    if (simd !== wantSimd) err(`xent_simd() = ${simd}, expected ${wantSimd}`);
    if (heapBase > Number(initialPages) * PAGE) err(`__heap_base = ${heapBase} is beyond the initial ${initialPages} pages`);
    const features = [...used].map(([f, n]) => `${f} x${n}`);
    const simdUse = [...used.keys()].filter((f) => f.startsWith('simd128') || f === 'relaxed-simd');
    if (flavour === 'mvp') {
      if (simdUse.length) err(`the portable module contains SIMD: ${simdUse.join(', ')}`);
      // Debian's sysroot is built with target-cpu=mvp, so anything post-MVP is a regression. A
      // rustup target's prebuilt core is not (it may bring bulk-memory, sign-ext, ...): warn.
      if (used.size && kind === 'debian') err(`the portable module uses post-MVP features: ${features.join(', ')}`);
      else if (used.size) console.log(`verify: warning: ${file} uses post-MVP features (from rustup's prebuilt core): ${features.join(', ')}`);
    } else if (!counts.simd) console.log(`verify: warning: ${file} contains no SIMD instruction`);
    if (!shared && used.has('threads (atomics)')) err('a single-thread module contains atomics');
    line += `: xent_abi_version() = ${abi}, xent_simd() = ${simd}, ${counts.simd} SIMD of ${counts.instructions} instructions`;
    line += `, __heap_base = ${heapBase} (${Number(initialPages) * PAGE - heapBase} bytes free in ${initialPages} pages)`;
    line += `\n        imports: ${importList.join(', ')} (min ${mem && mem.min} pages, max ${mem && mem.max !== undefined ? mem.max : 'none'})`;
    line += `; exports: ${exports.map((e) => e.name).join(', ')}`;
    line += `\n        post-MVP features: ${features.length ? features.join(', ') : 'none'}`;
  } catch (e) {
    err(e.message);
  }
  console.log(line);
  for (const m of errors) console.error(`verify: error: ${file}: ${m}`);
  failures += errors.length;
}
process.exit(failures ? 1 : 0);
JS

# A second opinion when wabt is installed (CI does not need it): wasm-validate with every
# post-MVP feature wabt 1.0.32 enables by default turned off for the portable module.
if command -v wasm-validate >/dev/null; then
    mvp_off=(--disable-simd)
    [[ "${verify_args[5]}" == debian ]] && mvp_off+=(--disable-mutable-globals --disable-saturating-float-to-int
        --disable-sign-extension --disable-multi-value --disable-bulk-memory --disable-reference-types)
    wasm-validate "${verify_args[0]}" && wasm-validate "${mvp_off[@]}" "${verify_args[3]}" ||
        { echo "build-wasm: error: wasm-validate (wabt) rejected a module (see above)" >&2; exit 1; }
    echo "build-wasm: wasm-validate (wabt) agrees; ${verify_args[3]} checked with ${#mvp_off[@]} post-MVP features disabled"
fi

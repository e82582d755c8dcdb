#!/usr/bin/env node
// Checks a built xent module against what the TypeScript loader (ts/) relies on: the part of the
// verification that wabt's wasm-validate cannot express. scripts/build-wasm.sh runs wasm-validate
// first, with exactly the features the flavour may use (none for the portable module; no atomics
// and no shared memory outside the threads build); this script then checks that the module
//   1. compiles in this Node (V8), and instantiates with the memory the loader provides;
//   2. imports exactly one thing, env.memory, a memory whose initial size is at most
//      --initial-pages, whose declared maximum (if any) admits --maximum-pages, and which is shared
//      exactly when the flavour is `threads` (limits, sharing and mutability read from
//      `wasm-objdump -x`);
//   3. exports the ABI: every function ts/ calls, taking the number of arguments it passes; the
//      global __heap_base; the global __stack_pointer in the threads build (each worker sets its
//      own stack); and nothing else but the linker's __data_end. Exported globals are immutable
//      but for that __stack_pointer: exporting a mutable global is post-MVP (mutable-globals), and
//      wabt 1.0.32's --disable-mutable-globals rejects only imported ones;
//   4. reports its flavour from xent_simd(): 0 portable, 1 SIMD (and threads), 2 relaxed SIMD;
//   5. fits stack and static data in the initial pages: __heap_base <= --initial-pages * 64 KiB.
// Prints one summary per module; on failure, one `verify-wasm: error:` line per failed check and
// exit status 1 (2 for a usage error).
//
// Usage: node [--experimental-wasm-relaxed-simd] scripts/verify-wasm.mjs --flavour <flavour>
//          [--initial-pages N] [--maximum-pages N] <file.wasm>...
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const PAGE = 65536;
const FLAVOURS = ['simd128', 'mvp', 'threads', 'relaxed'];
// xent_simd() of each flavour (crates/xent-abi: which kernel lanes were compiled in).
/** @type {Record<string, number>} */
const SIMD_LEVEL = { simd128: 1, mvp: 0, threads: 1, relaxed: 2 };
// The functions ts/abi.ts checks for at load time, with their arity.
const ABI_FUNCTIONS = {
  xent_abi_version: 0,
  xent_simd: 0,
  xent_loss_args_size: 0,
  xent_cross_entropy: 2,
  xent_softmax: 7,
  xent_softmax_backward: 8,
  xent_nll_loss: 2,
  xent_cross_entropy_weight_sum: 2,
  xent_cross_entropy_range: 6,
  xent_exact_sum_size: 0,
  xent_exact_sum_clear: 1,
  xent_exact_sum_merge: 2,
  xent_exact_sum_value: 1,
  xent_cross_entropy_f16: 4,
  xent_cross_entropy_f16_weight_sum: 2,
  xent_cross_entropy_f16_range: 8,
  xent_f16_to_f32: 3,
  xent_resize_args_size: 0,
  xent_resize_scratch_size: 1,
  xent_resize_cross_entropy: 5,
  xent_resize_weight_sum: 3,
  xent_resize_cross_entropy_range: 9,
};

const USAGE = `usage: node scripts/verify-wasm.mjs --flavour <${FLAVOURS.join('|')}> [--initial-pages N] [--maximum-pages N] <file.wasm>...
  --flavour        which build the files are (scripts/build-wasm.sh)
  --initial-pages  pages of the memory the loader creates (default 2, as in ts/)
  --maximum-pages  maximum pages of that memory (default 65536, as in ts/)`;

/** @param {string} message @returns {never} */
function usageError(message) {
  console.error(`verify-wasm: error: ${message}\n${USAGE}`);
  process.exit(2);
}

/** @param {string | undefined} text @param {string} name */
function pages(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65536) usageError(`--${name} must be an integer in 1..65536, got ${text}`);
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      flavour: { type: 'string' },
      'initial-pages': { type: 'string', default: '2' },
      'maximum-pages': { type: 'string', default: '65536' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (e) {
  usageError(e instanceof Error ? e.message : String(e));
}
if (parsed.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const flavour = parsed.values.flavour ?? '';
if (!FLAVOURS.includes(flavour)) usageError(`--flavour must be one of ${FLAVOURS.join(', ')}, got '${flavour}'`);
const initialPages = pages(parsed.values['initial-pages'], 'initial-pages');
const maximumPages = pages(parsed.values['maximum-pages'], 'maximum-pages');
if (parsed.positionals.length === 0) usageError('no .wasm file given');
const shared = flavour === 'threads';

/**
 * What `wasm-objdump -x` (wabt) details that the JS API does not: the limits of the env.memory
 * import, e.g. ` - memory[0] pages: initial=2 max=65536 shared <- env.memory`, and which
 * globals are mutable, e.g. ` - global[0] i32 mutable=1 <__stack_pointer> - init i32=65536`
 * with ` - global[0] -> "__stack_pointer"` among the exports. A line of another form (a memory64
 * import, a changed output format) is not matched, and the checks that need it fail.
 * @param {string} file
 */
function objdumpDetails(file) {
  const out = execFileSync('wasm-objdump', ['-x', file], { encoding: 'utf8' });
  /** @type {{initial: number, maximum: number | undefined, shared: boolean} | null} */
  let memory = null;
  /** @type {Map<number, boolean>} global index -> mutable */
  const mutable = new Map();
  /** @type {Map<string, number>} exported name -> global index */
  const exportedGlobals = new Map();
  for (const line of out.split('\n')) {
    let m = /^ - memory\[\d+\] pages: initial=(\d+)(?: max=(\d+))?( shared)? <- env\.memory$/.exec(line);
    if (m) memory = { initial: Number(m[1]), maximum: m[2] === undefined ? undefined : Number(m[2]), shared: !!m[3] };
    m = /^ - global\[(\d+)\] \w+ mutable=([01])\b/.exec(line);
    if (m) mutable.set(Number(m[1]), m[2] === '1');
    m = /^ - global\[(\d+)\] -> "(.*)"$/.exec(line);
    if (m) exportedGlobals.set(m[2], Number(m[1]));
  }
  return { memory, mutable, exportedGlobals };
}

/**
 * @param {string} file
 * @param {string[]} errors receives the failed checks
 * @returns {string} what the module is, for the log
 */
function verify(file, errors) {
  const bytes = readFileSync(file);
  let summary = `${bytes.length} bytes (${(bytes.length / 1024).toFixed(1)} KiB)`;

  let module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (e) {
    const hint = flavour === 'relaxed' ? ' (Node 20 needs --experimental-wasm-relaxed-simd)' : '';
    errors.push(`does not compile in node ${process.version}${hint}: ${e instanceof Error ? e.message : e}`);
    return summary;
  }

  // 2. Imports.
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}:${i.kind}`);
  if (imports.join() !== 'env.memory:memory') {
    errors.push(`imports must be exactly env.memory, got [${imports.join(', ')}]`);
  }
  /** @type {ReturnType<typeof objdumpDetails> | null} */
  let details = null;
  try {
    details = objdumpDetails(file);
  } catch (e) {
    errors.push(`wasm-objdump (wabt) failed: ${e instanceof Error ? e.message : e}`);
  }
  const limits = details?.memory;
  if (!limits) {
    errors.push('wasm-objdump -x shows no 32-bit env.memory import with page limits');
  } else {
    if (limits.initial > initialPages) {
      errors.push(`env.memory needs ${limits.initial} pages initially; the loader provides ${initialPages}`);
    }
    if (limits.maximum !== undefined && limits.maximum < maximumPages) {
      errors.push(
        `env.memory declares maximum ${limits.maximum} pages; the loader's memory has maximum ${maximumPages}`,
      );
    }
    if (limits.shared !== shared) {
      errors.push(shared ? 'env.memory of the threads build is not shared' : 'env.memory is shared');
    }
    const max = limits.maximum === undefined ? 'none' : limits.maximum;
    summary += `\n        imports: env.memory (initial ${limits.initial} pages, maximum ${max}${limits.shared ? ', shared' : ''})`;
  }

  // 3. Exports, by kind.
  const exports = WebAssembly.Module.exports(module);
  const expected = new Map(Object.keys(ABI_FUNCTIONS).map((name) => [name, 'function']));
  expected.set('__heap_base', 'global');
  if (shared) expected.set('__stack_pointer', 'global');
  for (const [name, kind] of expected) {
    const e = exports.find((x) => x.name === name);
    if (!e) errors.push(`missing export ${name}`);
    else if (e.kind !== kind) errors.push(`export ${name} is a ${e.kind}, expected a ${kind}`);
  }
  for (const e of exports) {
    if (!expected.has(e.name) && e.name !== '__data_end') {
      errors.push(`unexpected export ${e.name} (${e.kind}): if the ABI gained it, add it to ABI_FUNCTIONS here`);
    }
  }
  for (const e of exports.filter((x) => x.kind === 'global')) {
    const index = details?.exportedGlobals.get(e.name);
    const mutable = index === undefined ? undefined : details?.mutable.get(index);
    const wanted = shared && e.name === '__stack_pointer';
    if (mutable === undefined) errors.push(`wasm-objdump -x shows no mutability for the exported global ${e.name}`);
    else if (mutable !== wanted) errors.push(`the exported global ${e.name} is ${mutable ? 'mutable' : 'immutable'}`);
  }
  summary += `; exports: ${exports.map((e) => e.name).join(', ')}`;
  if (errors.length) return summary; // instantiating would only fail again, less clearly

  // 1. Instantiation, with the memory the loader creates.
  let x;
  try {
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared });
    x = new WebAssembly.Instance(module, { env: { memory } }).exports;
  } catch (e) {
    errors.push(`does not instantiate with the loader's memory: ${e instanceof Error ? e.message : e}`);
    return summary;
  }
  for (const [name, arity] of Object.entries(ABI_FUNCTIONS)) {
    const f = /** @type {Function} */ (x[name]);
    if (f.length !== arity) errors.push(`export ${name} takes ${f.length} arguments; ts/ passes ${arity}`);
  }

  // 4. The flavour.
  const simd = /** @type {() => number} */ (x.xent_simd)();
  if (simd !== SIMD_LEVEL[flavour]) {
    errors.push(`xent_simd() = ${simd}, expected ${SIMD_LEVEL[flavour]} for ${flavour}`);
  }

  // 5. Stack and static data in the initial pages.
  const heapBase = Number(/** @type {WebAssembly.Global} */ (x.__heap_base).value);
  const room = initialPages * PAGE;
  if (heapBase > room) {
    errors.push(`__heap_base = ${heapBase} is beyond the initial ${initialPages} pages (${room} bytes)`);
  }

  const abi = /** @type {() => number} */ (x.xent_abi_version)();
  return (
    `xent_abi_version() = ${abi}, xent_simd() = ${simd}, __heap_base = ${heapBase} ` +
    `(${room - heapBase} bytes free in ${initialPages} pages), ${summary}`
  );
}

let failures = 0;
for (const file of parsed.positionals) {
  /** @type {string[]} */
  const errors = [];
  try {
    console.log(`verify-wasm: ${file}: ${verify(file, errors)}`);
  } catch (e) {
    errors.push(e instanceof Error ? e.message : String(e));
  }
  for (const m of errors) console.error(`verify-wasm: error: ${file}: ${m}`);
  failures += errors.length;
}
process.exit(failures ? 1 : 0);

// The bench scripts' command lines, parsed by node:util's parseArgs in strict mode, so that a
// mistyped option fails instead of being ignored.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * The options of this process's command line. `options` is as parseArgs takes it; -h/--help is
 * added, positional arguments are refused. --help prints `usage` and exits; an unknown or
 * malformed option prints the error and `usage` to stderr and exits with status 2.
 * @template {NonNullable<import('node:util').ParseArgsConfig['options']>} T
 * @param {T} options
 * @param {string} usage
 */
export function commandLine(options, usage) {
  /** @type {import('node:util').ParseArgsConfig} */
  const config = { options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true };
  let values;
  try {
    values = parseArgs(config).values;
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : e}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return /** @type {ReturnType<typeof parseArgs<{ options: T, strict: true }>>['values']} */ (values);
}

/**
 * Node 20 runs relaxed SIMD (the xent-relaxed build) only with --experimental-wasm-relaxed-simd:
 * when this V8 has that flag and this process was started without it, runs the script at
 * `scriptUrl` again with it (same arguments, XENT_BENCH_RELAXED_FLAG=1 so that it happens once)
 * and exits with its status. Newer Node versions, which run relaxed SIMD as is, carry on.
 * @param {string} scriptUrl the calling script's import.meta.url
 */
export function rerunWithRelaxedSimd(scriptUrl) {
  if (process.env.XENT_BENCH_RELAXED_FLAG) return;
  const flag = '--experimental-wasm-relaxed-simd';
  const v8 = execFileSync(process.execPath, ['--v8-options']).toString();
  if (!v8.includes(flag) || process.execArgv.includes(flag)) return;
  const argv = [...process.execArgv, flag, fileURLToPath(scriptUrl), ...process.argv.slice(2)];
  const r = spawnSync(process.execPath, argv, {
    stdio: 'inherit',
    env: { ...process.env, XENT_BENCH_RELAXED_FLAG: '1' },
  });
  process.exit(r.status ?? 1);
}

/**
 * The two built packages of an A/B run (bench/ab.mjs, bench/ab-resize.mjs): `a` and `b` are
 * dist/ directories. Without `a`, prints `usage` and exits with status 2.
 * @param {string | undefined} a
 * @param {string} b
 * @param {string} usage
 * @returns {Promise<{ dirs: { A: string, B: string }, libs: { A: any, B: any } }>}
 */
export async function loadBuilds(a, b, usage) {
  if (!a) {
    console.error(usage);
    process.exit(2);
  }
  const dirs = { A: resolve(a), B: resolve(b) };
  for (const d of Object.values(dirs)) {
    if (!existsSync(`${d}/index.mjs`)) throw new Error(`${d}/index.mjs not found (a built dist/?)`);
  }
  const libs = {
    A: await import(pathToFileURL(`${dirs.A}/index.mjs`).href),
    B: await import(pathToFileURL(`${dirs.B}/index.mjs`).href),
  };
  return { dirs, libs };
}

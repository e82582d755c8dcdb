// The bench scripts' command lines, parsed by node:util's parseArgs in strict mode, so that a
// mistyped option fails instead of being ignored.
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

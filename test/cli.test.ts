/**
 * The CLI (dist/cli.mjs, `npx xent-wasm`): its options are parsed strictly. `--help` prints the
 * usage and runs nothing; an unknown option or a bad value is an error with the usage, exit
 * status 2. (The seed walk-through itself: test/loader.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { runNode } from './reference/child.js';
import { DIST } from './reference/dist.js';

function cli(...args: string[]) {
  return runNode([`${DIST}cli.mjs`, ...args], { timeout: 60_000 });
}

describe('xent-wasm CLI', () => {
  it.each(['--help', '-h'])('%s prints the usage with every option, and runs nothing', async (flag) => {
    const r = await cli(flag);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: xent-wasm \[options\]/);
    for (const option of ['--portable', '--simd', '--runs <n>', '--no-bench', '-h, --help'])
      expect(r.stdout).toContain(option);
    expect(r.stdout).not.toContain('Step 1');
  });

  it('an unknown option is an error with the usage (exit status 2), and runs nothing', async () => {
    const r = await cli('--no-bench', '--thread=2');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^xent-wasm: error: Unknown option '--thread'/);
    expect(r.stderr).toContain('Usage: xent-wasm [options]');
  });

  it('a positional argument is an error too', async () => {
    const r = await cli('seed');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unexpected argument 'seed'");
    expect(r.stderr).toContain('Usage: xent-wasm [options]');
  });

  it.each([
    [['--runs=0'], '--runs must be a positive integer, got "0"'],
    [['--runs', 'five'], '--runs must be a positive integer, got "five"'],
    [['--runs'], "Option '--runs <value>' argument missing"],
    [['--portable', '--simd'], '--portable and --simd exclude each other'],
    [['--no-bench=yes'], "Option '--no-bench' does not take an argument"],
  ])('%j is an error with the usage (exit status 2)', async (args, message) => {
    const r = await cli(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: xent-wasm [options]');
  });

  it('--portable --no-bench runs the seed example on the portable build', async () => {
    const r = await cli('--portable', '--no-bench');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('xent-wasm — portable build');
    expect(r.stdout).toContain('PyTorch float64 = ');
    expect(r.stdout).not.toContain('Timing');
  });
});

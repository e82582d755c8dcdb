/**
 * Child processes for the tests, run asynchronously: a synchronous spawn blocks the test
 * worker's event loop, and vitest's RPC with it ("Timeout calling onTaskUpdate" when a child
 * takes long on a loaded machine).
 */
import { execFile } from 'node:child_process';

export interface ChildResult {
  /** The exit status (null when killed by a signal or the timeout). */
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node ...args`; never rejects on a non-zero exit: the caller checks `status`. */
export function runNode(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20, ...options },
      (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        resolve({ status: error ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
}

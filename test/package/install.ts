/**
 * The package as a user installs it, once per test run, shared by the test files that need it
 * (test/package/package.test.ts and test/docs/snippets.test.ts): `npm pack` of this repository
 * (dist/ as `npm test` built it; --ignore-scripts, because the prepack build must not rewrite
 * dist/ while other test files read it), installed from the tarball into a fresh project with
 * `npm install --prefer-offline`, with @tensorflow/tfjs at the version of the repository's
 * devDependencies (which is therefore in the npm cache).
 *
 * The test files run in separate processes, possibly at once: the first one to ask takes a lock
 * (an atomic `mkdir` in the run's directory, see global-setup.ts) and installs; the others wait
 * for its result file (or its failure) without blocking their worker.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TFJS_VERSION: string = createRequire(import.meta.url)('@tensorflow/tfjs/package.json').version;
/** How long a test file waits for another one's install. */
const WAIT_MS = 600_000;

const execFileAsync = promisify(execFile);

/**
 * Runs a command; on failure, throws with its stdout and stderr (tsc reports on stdout).
 * Asynchronous: a synchronous child blocks the test worker, whose messages to vitest then time out.
 */
export async function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { cwd, encoding: 'utf8', timeout, maxBuffer: 2 ** 26 });
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${x.stdout ?? ''}${x.stderr ?? ''}\n${x.message}`);
  }
}

/** The installed package. */
export interface Installed {
  /** The run's directory (the tarball is in it). */
  work: string;
  /** The user's project, the tarball and TF.js in its node_modules (write files only under it). */
  project: string;
  tarball: string;
  /** The tarball's files, sorted. */
  files: string[];
}

let installed: Promise<Installed> | undefined;

/** The package installed for this run (installing it, or waiting for another test file's install). */
export function installedPackage(): Promise<Installed> {
  installed ??= acquire();
  return installed;
}

async function acquire(): Promise<Installed> {
  const work = inject('packageWork');
  const done = join(work, 'installed.json');
  const failed = join(work, 'failed.txt');
  try {
    mkdirSync(join(work, 'lock'));
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
    return waitFor(done, failed);
  }
  try {
    const r = await install(work);
    // Written whole, then renamed: a waiting file never reads half of it.
    writeFileSync(`${done}.tmp`, JSON.stringify(r));
    renameSync(`${done}.tmp`, done);
    return r;
  } catch (e) {
    writeFileSync(failed, e instanceof Error ? e.message : String(e));
    throw e;
  }
}

async function waitFor(done: string, failed: string): Promise<Installed> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as Installed;
    if (existsSync(failed)) {
      throw new Error(`installing the packed package (in another test file) failed:\n${readFileSync(failed, 'utf8')}`);
    }
    if (Date.now() > deadline) throw new Error(`another test file did not install the package within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function install(work: string): Promise<Installed> {
  const packed = JSON.parse(
    await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT),
  ) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0]!.filename);
  const files = packed[0]!.files.map((f) => f.path).sort();
  const project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
  await run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `@tensorflow/tfjs@${TFJS_VERSION}`],
    project,
    300_000,
  );
  return { work, project, tarball, files };
}

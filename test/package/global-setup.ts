/**
 * A directory for this test run's one `npm pack` + `npm install` of the package (see
 * test/package/install.ts), given to the test files as `inject('packageWork')` and removed at
 * the end of the run. Creating it is all this does: the install happens only when a test file
 * asks for it, so that a run without those files does not pay for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's directory for the packed and installed package. */
    packageWork: string;
  }
}

export default function setup(project: TestProject): () => void {
  const work = mkdtempSync(join(tmpdir(), 'xent-package-'));
  project.provide('packageWork', work);
  return () => rmSync(work, { recursive: true, force: true });
}

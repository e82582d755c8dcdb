/** The built package (what users get), loaded once per test file in both builds. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import * as lib from '../../dist/index.mjs';

export { lib };
export type Xent = lib.Xent;

export const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** The SIMD and the portable build, each in its own instance. */
export async function bothBuilds(): Promise<{ simd: lib.Xent; portable: lib.Xent }> {
  const simd = await lib.Xent.create({ simd: true });
  const portable = await lib.Xent.create({ simd: false });
  if (!simd.simd || portable.simd) throw new Error('expected one SIMD and one portable instance');
  return { simd, portable };
}

/**
 * Both builds for the tests of one file: created before the first test, disposed after the
 * last. Read `builds()` inside tests (not at collection time).
 */
export function useBothBuilds(): () => { simd: lib.Xent; portable: lib.Xent } {
  let builds: { simd: lib.Xent; portable: lib.Xent } | undefined;
  beforeAll(async () => {
    builds = await bothBuilds();
  });
  afterAll(() => {
    builds?.simd.dispose();
    builds?.portable.dispose();
  });
  return () => {
    if (!builds) throw new Error('useBothBuilds(): the builds are created in beforeAll; read them inside a test');
    return builds;
  };
}

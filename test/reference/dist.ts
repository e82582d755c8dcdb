/** The built package (what users get), loaded once per test file in both builds. */
import { fileURLToPath } from 'node:url';
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

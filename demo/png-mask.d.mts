// Types of demo/png-mask.mjs (for the TypeScript tests that import it).
import type { Tensor, Xent } from '../dist/index.mjs';

/** An 8-bit gray or palette PNG of class ids as a new uint8 tensor [1, H, W]. */
export function readMask(xent: Xent, file: string): Tensor<'uint8'>;

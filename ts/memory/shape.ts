/**
 * Shape helpers.
 * @module
 */

import { XentOutOfMemoryError, XentShapeError, formatBytes } from '../errors.js';

/** A tensor shape: a list of non-negative integer dims (row-major, last dim fastest). */
export type Shape = readonly number[];

/** Largest byte length a wasm32 memory can hold. */
const MAX_BYTES = 2 ** 32;

/** @internal `[2, 19, 512]` → `"[2, 19, 512]"`. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** @internal Checks that `shape` is an array of non-negative safe integers; returns a frozen copy. */
export function checkShape(shape: unknown, what: string): readonly number[] {
  if (!Array.isArray(shape)) {
    throw new XentShapeError(
      `${what}: shape must be an array of non-negative integers, got ${describeShapeValue(shape)}`,
    );
  }
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new XentShapeError(
        `${what}: shape[${i}] must be a non-negative integer, got ${describeDim(d)} in ` +
          `[${shape.map(describeDim).join(', ')}]`,
      );
    }
  }
  return Object.freeze([...(shape as number[])]);
}

/** What a value that should have been a shape is (as the message always said, never throwing). */
function describeShapeValue(shape: unknown): string {
  if (typeof shape !== 'object' || shape === null) return shape === null ? 'null' : typeof shape;
  try {
    return String(shape);
  } catch {
    return 'an object';
  }
}

/** A dim for a message (String() throws for a null-prototype object or a symbol in a template). */
function describeDim(d: unknown): string {
  try {
    return String(d);
  } catch {
    return typeof d;
  }
}

/** @internal Number of elements (the product of the dims; 1 for a scalar shape `[]`). */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * @internal Byte length of `size` elements of `bytes` bytes; throws a clear
 * {@link XentOutOfMemoryError} before any allocation when it cannot fit in a wasm32 memory.
 */
export function checkByteLength(shape: Shape, size: number, bytes: number, dtype: string, what: string): number {
  const byteLength = size * bytes;
  if (!Number.isSafeInteger(byteLength) || byteLength >= MAX_BYTES) {
    throw new XentOutOfMemoryError(
      Number.isFinite(byteLength) ? byteLength : Number.MAX_VALUE,
      NaN,
      NaN,
      `${what}: a ${dtype} tensor of shape ${formatShape(shape)} has ${size} elements = ${byteLength} bytes ` +
        `(${formatBytes(byteLength)})`,
      true,
    );
  }
  return byteLength;
}

/** @internal */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** @internal Multi-index of flat (row-major) index `flat` in `shape`. */
export function unravel(flat: number, shape: Shape): number[] {
  const pos = new Array<number>(shape.length).fill(0);
  let r = flat;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    if (d > 0) {
      pos[i] = r % d;
      r = Math.floor(r / d);
    }
  }
  return pos;
}

/**
 * Element types of tensors in wasm memory.
 * @module
 */

/**
 * The element type of a {@link Tensor}.
 *
 * - `'float32'`: logits, gradients, weights, losses.
 * - `'float16'`: logits in IEEE half precision (converted to float32 by the kernel as it reads
 *   them; the results are those of float32 logits of the same values). Its {@link Tensor.data}
 *   is a `Uint16Array` of the half-precision bits in every engine (a `Float16Array` exists only
 *   in some).
 * - `'uint8'`, `'uint16'`, `'int32'`: class-index targets (`uint8` with `ignoreIndex: 255` is the
 *   usual choice for segmentation masks).
 */
export type DType = 'float32' | 'float16' | 'uint8' | 'uint16' | 'int32';

/** The dtypes accepted for class-index targets. */
export type TargetDType = 'uint8' | 'uint16' | 'int32';

/** The typed array that views a tensor of dtype `D`. */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float16'
    ? Uint16Array
    : D extends 'uint8'
      ? Uint8Array
      : D extends 'uint16'
        ? Uint16Array
        : D extends 'int32'
          ? Int32Array
          : never;

/** Any typed array that maps onto a {@link DType}. */
export type SupportedTypedArray = Float32Array | Uint8Array | Uint16Array | Int32Array;

/** The dtype of a typed array type `A`. */
export type DTypeOf<A extends SupportedTypedArray> = A extends Float32Array
  ? 'float32'
  : A extends Uint8Array
    ? 'uint8'
    : A extends Uint16Array
      ? 'uint16'
      : A extends Int32Array
        ? 'int32'
        : never;

/** @internal */
export interface DTypeInfo {
  readonly bytes: number;
  readonly ctor: {
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): SupportedTypedArray;
    readonly name: string;
  };
}

/** @internal Byte size and typed-array constructor of each dtype. */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = Object.freeze({
  float32: { bytes: 4, ctor: Float32Array },
  float16: { bytes: 2, ctor: Uint16Array },
  uint8: { bytes: 1, ctor: Uint8Array },
  uint16: { bytes: 2, ctor: Uint16Array },
  int32: { bytes: 4, ctor: Int32Array },
});

/** @internal */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** @internal The class-index dtypes, as a list. */
export const INDEX_DTYPES: readonly TargetDType[] = Object.freeze(['uint8', 'uint16', 'int32'] as const);

/** @internal The class-index dtypes, for messages. */
export const INDEX_DTYPES_TEXT = 'uint8, uint16 or int32';

/**
 * @internal The dtype of a typed array, or `undefined` when it is not one of the supported
 * kinds (`Uint8ClampedArray`, `Float64Array`, … are not: they would be silently reinterpreted).
 */
export function dtypeOfArray(value: unknown): DType | undefined {
  if (value instanceof Float32Array) return 'float32';
  if (isFloat16Array(value)) return 'float16';
  if (value instanceof Uint8Array) return 'uint8';
  if (value instanceof Uint16Array) return 'uint16';
  if (value instanceof Int32Array) return 'int32';
  return undefined;
}

/** @internal A short description of what a value is, for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an Array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** The engine's `Float16Array` constructor, where it has one (not Node 20). */
function float16ArrayCtor(): (abstract new (...args: never[]) => ArrayBufferView) | undefined {
  const f = (globalThis as { Float16Array?: unknown }).Float16Array;
  return typeof f === 'function' ? (f as abstract new (...args: never[]) => ArrayBufferView) : undefined;
}

/** @internal True for a `Float16Array` (in an engine that has them). */
export function isFloat16Array(value: unknown): value is ArrayBufferView & { readonly length: number } {
  const F = float16ArrayCtor();
  return F !== undefined && value instanceof F;
}

/**
 * @internal The IEEE half-precision bits of float16 data: a `Float16Array` viewed as a
 * `Uint16Array` (the same bytes, no conversion), a `Uint16Array` as it is.
 */
export function halfBits(data: Uint16Array | (ArrayBufferView & { readonly length: number })): Uint16Array {
  if (data instanceof Uint16Array) return data;
  return new Uint16Array(data.buffer, data.byteOffset, data.length);
}

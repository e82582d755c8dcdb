/**
 * Element types of tensors in wasm memory.
 * @module
 */

/**
 * The element type of a {@link Tensor}.
 *
 * - `'float32'`: logits, gradients, weights, losses.
 * - `'uint8'`, `'uint16'`, `'int32'`: class-index targets (`uint8` with `ignoreIndex: 255` is the
 *   usual choice for segmentation masks).
 */
export type DType = 'float32' | 'uint8' | 'uint16' | 'int32';

/** The dtypes accepted for class-index targets. */
export type TargetDType = 'uint8' | 'uint16' | 'int32';

/** The typed array that views a tensor of dtype `D`. */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
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

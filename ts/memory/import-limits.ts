/**
 * The limits of the memory a module imports, read from its bytes before instantiation, so that
 * the loader can create a memory that fits (and say why one given to it does not).
 * @module
 */

/** @internal Limits of the memory a module imports (in pages), read from its bytes. */
export interface MemoryLimits {
  min: number;
  max: number | undefined;
  shared: boolean;
  memory64: boolean;
}

/** @internal Reads the limits of the `env.memory` import from a module's bytes (undefined if none). */
export function memoryImportLimits(bytes: Uint8Array): MemoryLimits | undefined {
  let p = 8;
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (p >= bytes.length) throw new Error('truncated');
      const b = bytes[p++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result;
    }
  };
  const name = (): string => {
    const len = u32();
    const s = new TextDecoder().decode(bytes.subarray(p, p + len));
    p += len;
    return s;
  };
  const limits = (): MemoryLimits => {
    const flags = u32();
    const min = u32();
    const max = flags & 1 ? u32() : undefined;
    return { min, max, shared: (flags & 2) !== 0, memory64: (flags & 4) !== 0 };
  };
  try {
    while (p < bytes.length) {
      const id = bytes[p++]!;
      const size = u32();
      const end = p + size;
      if (id === 2) {
        const count = u32();
        for (let i = 0; i < count; i++) {
          const mod = name();
          const field = name();
          const kind = bytes[p++]!;
          if (kind === 0) u32();
          else if (kind === 1) {
            p++;
            limits();
          } else if (kind === 2) {
            const l = limits();
            if (mod === 'env' && field === 'memory') return l;
          } else if (kind === 3) p += 2;
          else if (kind === 4) {
            p++;
            u32();
          } else return undefined;
        }
        return undefined;
      }
      p = end;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

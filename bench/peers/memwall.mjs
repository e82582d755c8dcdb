// Memory-wall baselines, in wasm SIMD: the least any kernel must do on these tensors.
//  - memwall-read (fwd):    sum the logits with f32x4 adds (read every byte once);
//  - memwall-copy (fwdbwd): copy the logits into a gradient-sized buffer (read + write every
//                           byte once, what a fused forward+backward must at least move).
// No wat compiler here, so the module's bytes are emitted by hand below (~100 bytes), each
// instruction commented with its text-format spelling.

export const precision = 'baseline';

// ---- WebAssembly binary encoding helpers ---------------------------------------------------

/** Unsigned LEB128. */
const u32 = (v) => {
  const out = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
};
/** Signed LEB128 (for i32.const). */
const s32 = (v) => {
  const out = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const str = (s) => [...u32(s.length), ...Buffer.from(s, 'utf8')];
const vec = (items) => [...u32(items.length), ...items.flat()];
const section = (id, bytes) => [id, ...u32(bytes.length), ...bytes];

const I32 = 0x7f,
  F32 = 0x7d,
  V128 = 0x7b;

// Instructions (the text format in the comments).
const op = {
  block: [0x02, 0x40], //          block (no result)
  loop: [0x03, 0x40], //           loop (no result)
  end: [0x0b], //                  end
  br: (l) => [0x0c, ...u32(l)], // br l
  brIf: (l) => [0x0d, ...u32(l)], // br_if l
  get: (i) => [0x20, ...u32(i)], // local.get i
  set: (i) => [0x21, ...u32(i)], // local.set i
  i32Const: (v) => [0x41, ...s32(v)], // i32.const v
  i32Add: [0x6a], //               i32.add
  i32GeU: [0x4f], //               i32.ge_u
  f32Add: [0x92], //               f32.add
  // SIMD: prefix 0xfd, then the LEB128 sub-opcode; memarg = align (log2 bytes), offset.
  v128Load: (off) => [0xfd, ...u32(0), 4, ...u32(off)], //  v128.load offset=off align=16
  v128Store: (off) => [0xfd, ...u32(11), 4, ...u32(off)], // v128.store offset=off align=16
  f32x4Add: [0xfd, ...u32(228)], //                         f32x4.add
  f32x4ExtractLane: (l) => [0xfd, ...u32(31), l], //         f32x4.extract_lane l
};

/** `(loop ... (br_if 1 (i32.ge_u (local.get p) (local.get end))) body (p += 64 for each pointer) (br 0))` */
const loop64 = (p, end, body, pointers) => [
  ...op.block,
  ...op.loop,
  ...op.get(p),
  ...op.get(end),
  ...op.i32GeU,
  ...op.brIf(1), // if p >= end: break
  ...body,
  ...pointers.flatMap((q) => [...op.get(q), ...op.i32Const(64), ...op.i32Add, ...op.set(q)]), // q += 64
  ...op.br(0),
  ...op.end,
  ...op.end,
];

// func copy(src: i32 (0), dst: i32 (1), n: i32 (2)), local end: i32 (3)
// Copies n bytes (a multiple of 64), 4 × v128 per iteration.
const copyBody = [
  ...op.get(0),
  ...op.get(2),
  ...op.i32Add,
  ...op.set(3), // end = src + n
  ...loop64(
    0,
    3,
    [0, 16, 32, 48].flatMap((o) => [...op.get(1), ...op.get(0), ...op.v128Load(o), ...op.v128Store(o)]), // dst[o] = src[o]
    [0, 1],
  ),
  ...op.end,
];

// func sum(src: i32 (0), n: i32 (1)) -> f32, locals end: i32 (2), acc0..acc3: v128 (3..6)
// Sums n bytes (a multiple of 64) of f32 with 4 independent f32x4 accumulators.
const sumBody = [
  ...op.get(0),
  ...op.get(1),
  ...op.i32Add,
  ...op.set(2), // end = src + n
  ...loop64(
    0,
    2,
    [0, 1, 2, 3].flatMap((k) => [
      ...op.get(3 + k),
      ...op.get(0),
      ...op.v128Load(16 * k),
      ...op.f32x4Add,
      ...op.set(3 + k),
    ]), // acc_k += src[16k]
    [0],
  ),
  // acc0 = acc0 + acc1 + acc2 + acc3; return lane0 + lane1 + lane2 + lane3
  ...op.get(3),
  ...op.get(4),
  ...op.f32x4Add,
  ...op.get(5),
  ...op.f32x4Add,
  ...op.get(6),
  ...op.f32x4Add,
  ...op.set(3),
  ...op.get(3),
  ...op.f32x4ExtractLane(0),
  ...[1, 2, 3].flatMap((l) => [...op.get(3), ...op.f32x4ExtractLane(l), ...op.f32Add]),
  ...op.end,
];

/** Code entry: size, local groups [(count, type)], body. */
const code = (locals, body) => {
  const bytes = [...vec(locals.map(([n, t]) => [...u32(n), t])), ...body];
  return [...u32(bytes.length), ...bytes];
};

export const MODULE_BYTES = Uint8Array.from([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // "\0asm", version 1
  ...section(
    1,
    vec([
      // type section
      [0x60, ...vec([I32, I32, I32]), ...vec([])], //  type 0: (i32, i32, i32) -> ()
      [0x60, ...vec([I32, I32]), ...vec([F32])], //    type 1: (i32, i32) -> f32
    ]),
  ),
  ...section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x00, ...u32(1)]])), // (import "env" "memory" (memory 1))
  ...section(3, vec([u32(0), u32(1)])), // function section: func 0 has type 0, func 1 type 1
  ...section(
    7,
    vec([
      // export section
      [...str('copy'), 0x00, ...u32(0)],
      [...str('sum'), 0x00, ...u32(1)],
    ]),
  ),
  ...section(
    10,
    vec([
      // code section
      code([[1, I32]], copyBody),
      code(
        [
          [1, I32],
          [4, V128],
        ],
        sumBody,
      ),
    ]),
  ),
]);

// ---- the peers -----------------------------------------------------------------------------

const align64 = (n) => Math.ceil(n / 64) * 64;

/** @typedef {{ copy(src: number, dst: number, n: number): void, sum(src: number, n: number): number }} Exports */

async function instantiate(data) {
  const bytes = data.logits.byteLength;
  const n = align64(bytes); // the tail past the logits is zero: it adds nothing to the sum
  const pages = Math.ceil((2 * n) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages });
  const { instance } = await WebAssembly.instantiate(MODULE_BYTES, { env: { memory } });
  new Float32Array(memory.buffer, 0, data.logits.length).set(data.logits);
  return { exports: /** @type {Exports} */ (instance.exports), n, src: 0, dst: n, memory };
}

function makePeer(kind) {
  return {
    id: `memwall-${kind}`,
    label: kind === 'read' ? 'memory wall: SIMD read' : 'memory wall: SIMD copy',
    precision: 'baseline',
    ops: kind === 'read' ? ['fwd'] : ['fwdbwd'],
    async load() {
      if (!WebAssembly.validate(MODULE_BYTES)) throw new Error('the engine rejects the SIMD baseline module');
      return {
        version: `${MODULE_BYTES.length}-byte wasm module`,
        async prepare(data) {
          const m = await instantiate(data);
          const { copy, sum } = m.exports;
          return {
            fwd: () => sum(m.src, m.n),
            fwdbwd: (check) => {
              copy(m.src, m.dst, m.n);
              return check ? { loss: NaN, grad: new Float32Array(m.memory.buffer, m.dst, data.logits.length) } : 0;
            },
            dispose() {},
          };
        },
      };
    },
  };
}

export const read = makePeer('read');
export const copy = makePeer('copy');

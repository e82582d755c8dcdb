// Builds the two ONNX models the ONNX Runtime peers run, with a tiny protobuf encoder (no
// onnx/protobuf package needed). Only the parts of onnx.proto (IR version 8) used here:
//
//   ModelProto      { 1 ir_version: int64, 2 producer_name: string, 7 graph: GraphProto,
//                     8 opset_import: repeated OperatorSetIdProto }
//   OperatorSetIdProto { 1 domain: string, 2 version: int64 }
//   GraphProto      { 1 node: repeated NodeProto, 2 name: string, 5 initializer: repeated TensorProto,
//                     11 input / 12 output: repeated ValueInfoProto }
//   NodeProto       { 1 input / 2 output: repeated string, 3 name: string, 4 op_type: string,
//                     5 attribute: repeated AttributeProto }
//   AttributeProto  { 1 name: string, 3 i: int64, 4 s: bytes, 8 ints: repeated int64,
//                     20 type: AttributeType (INT = 2, STRING = 3, INTS = 7) }
//   TensorProto     { 1 dims: repeated int64, 2 data_type: int32, 8 name: string, 9 raw_data: bytes }
//   ValueInfoProto  { 1 name: string, 2 type: TypeProto }
//   TypeProto       { 1 tensor_type: TypeProto.Tensor { 1 elem_type: int32, 2 shape: TensorShapeProto } }
//   TensorShapeProto { 1 dim: repeated Dimension { 1 dim_value: int64, 2 dim_param: string } }
//
// Wire format: each field is a varint key (field_number << 3 | wire_type) and its value:
// wire type 0 = varint (ints, enums), 2 = length-delimited (strings, bytes, sub-messages,
// packed repeated scalars).

/** ONNX TensorProto.DataType codes used here. */
export const DT = Object.freeze({ FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9 });

const utf8 = new TextEncoder();

/** Appends the unsigned LEB128 varint of a non-negative integer (up to 2^53). */
function varint(out, v) {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint: ${v}`);
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** A protobuf message under construction: call the field methods, then bytes(). */
class Msg {
  constructor() {
    this.out = [];
  }
  /** Varint field (int32/int64/enum). Negative int64 values use the 10-byte two's complement. */
  int(field, v) {
    varint(this.out, (field << 3) | 0);
    if (v < 0) {
      const u = BigInt.asUintN(64, BigInt(v));
      for (let x = u; ; ) {
        const b = Number(x & 0x7fn);
        x >>= 7n;
        if (x === 0n) {
          this.out.push(b);
          break;
        }
        this.out.push(b | 0x80);
      }
    } else varint(this.out, v);
    return this;
  }
  /** Length-delimited field: bytes, a string, or a sub-message. */
  bytes(field, data) {
    const b = typeof data === 'string' ? utf8.encode(data) : data instanceof Msg ? data.finish() : data;
    varint(this.out, (field << 3) | 2);
    varint(this.out, b.length);
    for (let i = 0; i < b.length; i++) this.out.push(b[i]);
    return this;
  }
  finish() {
    return Uint8Array.from(this.out);
  }
}
/** The encoded bytes of a sub-message, to embed with bytes(). */
const embed = (m) => m.finish();

/** An attribute: an integer, a string or a list of integers. */
function attribute(name, value) {
  const a = new Msg().bytes(1, name);
  if (typeof value === 'number') a.int(3, value).int(20, 2);
  else if (typeof value === 'string') a.bytes(4, value).int(20, 3);
  else if (Array.isArray(value)) {
    for (const v of value) a.int(8, v); // unpacked repeated int64 (always accepted)
    a.int(20, 7);
  } else throw new TypeError(`attribute ${name}: unsupported value ${value}`);
  return embed(a);
}

/** A node: `op(inputs) -> outputs` with attributes `{ name: value }`. */
export function node(opType, inputs, outputs, attrs = {}, name = undefined) {
  const m = new Msg();
  for (const i of inputs) m.bytes(1, i);
  for (const o of outputs) m.bytes(2, o);
  m.bytes(3, name ?? `${opType}_${outputs[0]}`);
  m.bytes(4, opType);
  for (const [k, v] of Object.entries(attrs)) m.bytes(5, attribute(k, v));
  return embed(m);
}

/** A constant tensor (graph initializer) from a typed array. */
export function initializer(name, dataType, dims, typed) {
  const m = new Msg();
  for (const d of dims) m.int(1, d);
  m.int(2, dataType);
  m.bytes(8, name);
  m.bytes(9, new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)); // little-endian raw_data
  return embed(m);
}

/** A graph input/output declaration; dims are numbers or symbolic names. */
export function valueInfo(name, elemType, dims) {
  const shape = new Msg();
  for (const d of dims) {
    const dim = new Msg();
    if (typeof d === 'number') dim.int(1, d);
    else dim.bytes(2, d);
    shape.bytes(1, embed(dim));
  }
  const tensorType = new Msg().int(1, elemType).bytes(2, embed(shape));
  const type = new Msg().bytes(1, embed(tensorType));
  return embed(new Msg().bytes(1, name).bytes(2, embed(type)));
}

/**
 * A whole model (default opset domain only).
 * @param {{ name: string, nodes: Uint8Array[], inputs: Uint8Array[], outputs: Uint8Array[],
 *   initializers?: Uint8Array[], opset?: number, irVersion?: number }} graph encoded parts
 */
export function model({ name, nodes, inputs, outputs, initializers = [], opset = 17, irVersion = 8 }) {
  const g = new Msg();
  for (const n of nodes) g.bytes(1, n);
  g.bytes(2, name);
  for (const t of initializers) g.bytes(5, t);
  for (const i of inputs) g.bytes(11, i);
  for (const o of outputs) g.bytes(12, o);
  const opsetId = new Msg().bytes(1, '').int(2, opset);
  return new Msg().int(1, irVersion).bytes(2, 'xent-wasm bench').bytes(7, embed(g)).bytes(8, embed(opsetId)).finish();
}

/**
 * The benchmark's models, for NCHW float32 `logits` [N, C, H, W] and int32 (or int64) `target`
 * [N, H, W]:
 *
 * fwd:    loss = SoftmaxCrossEntropyLoss(logits, target; ignore_index, reduction = mean)
 *
 * fwdbwd: the same loss, plus its gradient built from forward ops (ORT's npm builds have no
 *         training/gradient ops): with log_prob = the loss op's second output,
 *           mask  = Cast<float>(target != ignore)            [N, H, W]
 *           scale = Unsqueeze(mask / ReduceSum(mask), 1)     [N, 1, H, W]   (the mean's 1/W)
 *           grad  = (Exp(log_prob) - OneHot(target, C, axis 1)) * scale
 *         OneHot gives an all-zero row for the out-of-range ignore index, and scale is 0 there.
 * @param {{ N: number, C: number, H: number, W: number, ignoreIndex: number, labelType?: number }} shape
 */
export function crossEntropyModels({ N, C, H, W, ignoreIndex, labelType = DT.INT32 }) {
  const inputs = [valueInfo('logits', DT.FLOAT, [N, C, H, W]), valueInfo('target', labelType, [N, H, W])];
  const loss = valueInfo('loss', DT.FLOAT, []);
  const fwd = model({
    name: 'xent_fwd',
    nodes: [
      node('SoftmaxCrossEntropyLoss', ['logits', 'target'], ['loss'], { ignore_index: ignoreIndex, reduction: 'mean' }),
    ],
    inputs,
    outputs: [loss],
  });
  /** @param {number} v @returns a one-element array of the label type */
  const label = (v) => (labelType === DT.INT64 ? BigInt64Array.of(BigInt(v)) : Int32Array.of(v));
  const fwdbwd = model({
    name: 'xent_fwdbwd',
    nodes: [
      node('SoftmaxCrossEntropyLoss', ['logits', 'target'], ['loss', 'log_prob'], {
        ignore_index: ignoreIndex,
        reduction: 'mean',
      }),
      node('Exp', ['log_prob'], ['prob']),
      node('OneHot', ['target', 'depth', 'onehot_values'], ['onehot'], { axis: 1 }),
      node('Sub', ['prob', 'onehot'], ['dlogp']),
      node('Equal', ['target', 'ignore'], ['is_ignored']),
      node('Not', ['is_ignored'], ['kept']),
      node('Cast', ['kept'], ['mask'], { to: DT.FLOAT }),
      node('ReduceSum', ['mask'], ['count'], { keepdims: 0 }),
      node('Div', ['mask', 'count'], ['pixel_scale']),
      node('Unsqueeze', ['pixel_scale', 'axis1'], ['scale']),
      node('Mul', ['dlogp', 'scale'], ['grad']),
    ],
    initializers: [
      initializer('depth', labelType, [], label(C)),
      initializer('onehot_values', DT.FLOAT, [2], Float32Array.of(0, 1)),
      initializer('ignore', labelType, [], label(ignoreIndex)),
      initializer('axis1', DT.INT64, [1], BigInt64Array.of(1n)),
    ],
    inputs,
    outputs: [loss, valueInfo('grad', DT.FLOAT, [N, C, H, W])],
  });
  return { fwd, fwdbwd };
}

/**
 * Shared body of the two ORT peers: sessions for both models, feeds prepared once (untimed:
 * the uint8 targets widened to int32, SoftmaxCrossEntropyLoss's narrowest label type).
 * In the timing: session.run, which copies the inputs in and the outputs out (for
 * onnxruntime-web, into and out of its wasm memory): that is how ORT is used from JS.
 */
export async function prepareOrt(ort, data, sessionOptions) {
  const { N, C, H, W, ignoreIndex } = data;
  const models = crossEntropyModels({ N, C, H, W, ignoreIndex, labelType: DT.INT32 });
  const fwdSession = await ort.InferenceSession.create(models.fwd, sessionOptions);
  const bwdSession = await ort.InferenceSession.create(models.fwdbwd, sessionOptions);
  const target32 = Int32Array.from(data.target);
  const feeds = {
    logits: new ort.Tensor('float32', data.logits, [N, C, H, W]),
    target: new ort.Tensor('int32', target32, [N, H, W]),
  };
  const dispose = (r) => {
    for (const t of Object.values(r)) t.dispose?.();
  };
  return {
    fwd: async () => {
      const r = await fwdSession.run(feeds);
      const loss = r.loss.data[0];
      dispose(r);
      return loss;
    },
    fwdbwd: async (check) => {
      const r = await bwdSession.run(feeds);
      const loss = r.loss.data[0];
      const grad = check ? r.grad.data.slice() : undefined;
      dispose(r);
      return check ? { loss, grad } : loss;
    },
    async dispose() {
      await fwdSession.release();
      await bwdSession.release();
    },
  };
}

/**
 * A tiny ONNX model encoded by hand (a few protobuf fields, no onnx-proto): `y = relu(x·W + b)` repeated
 * `layers` times on a `[batch_size, width]` float input. The CUDA probe opens it at worker start-up,
 * and tests benchmark it without PyTorch or our emitter. Weights are deterministic from a seed.
 *
 * It must not grow into a serializer: the project's ONNX writer lives in onnx/.
 */

/** ONNX TensorProto.DataType.FLOAT. */
const ONNX_FLOAT = 1;
/** IR version 8 is what opset 17 needs (onnx/helper.py VERSION_TABLE). */
const IR_VERSION = 8;
const OPSET = 17;

export interface ProbeModelOptions {
  /** Features per sample (input and every layer). */
  width?: number;
  /** How many MatMul-Add-Relu blocks. */
  layers?: number;
  seed?: number;
  /** The first dimension of input and output: symbolic by default; a number makes a fixed-batch model. */
  batchDim?: number | string;
}

export interface ProbeModel {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  width: number;
  /** The reference forward pass in plain JS, to check an execution provider's answer. */
  forward(x: Float32Array, batch: number): Float32Array;
}

class Writer {
  private readonly parts: number[] = [];
  varint(value: number | bigint): this {
    let v = BigInt(value);
    if (v < 0n) v = (1n << 64n) + v;
    while (v >= 0x80n) {
      this.parts.push(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    this.parts.push(Number(v));
    return this;
  }
  private tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, value: number): this {
    return this.tag(field, 0).varint(value);
  }
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    for (const b of data) this.parts.push(b);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }
  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Deterministic uniform numbers in [-1, 1) (mulberry32). */
function uniformSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function valueInfo(w: Writer, field: number, name: string, dims: ReadonlyArray<number | string>): void {
  w.message(field, (vi) => {
    vi.string(1, name);
    vi.message(2, (type) =>
      type.message(1, (tensor) => {
        tensor.int(1, ONNX_FLOAT);
        tensor.message(2, (shape) => {
          for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        });
      }),
    );
  });
}

function initializer(w: Writer, name: string, dims: readonly number[], data: Float32Array): void {
  w.message(5, (t) => {
    for (const d of dims) t.int(1, d);
    t.int(2, ONNX_FLOAT);
    t.string(8, name);
    t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
}

export function makeProbeModel(options: ProbeModelOptions = {}): ProbeModel {
  const width = options.width ?? 8;
  const layers = options.layers ?? 1;
  const next = uniformSource(options.seed ?? 1);
  const scale = 1 / Math.sqrt(width);
  const weights: Float32Array[] = [];
  const biases: Float32Array[] = [];
  for (let l = 0; l < layers; l++) {
    weights.push(Float32Array.from({ length: width * width }, () => next() * scale));
    biases.push(Float32Array.from({ length: width }, () => next() * 0.1));
  }
  const inputName = 'x';
  const outputName = 'y';
  const model = new Writer();
  model.int(1, IR_VERSION);
  model.string(2, 'onnx-export-pipeline bench/probe-model');
  model.message(7, (graph) => {
    let current = inputName;
    for (let l = 0; l < layers; l++) {
      const out = l === layers - 1 ? outputName : `h${l}`;
      graph.message(1, (n) => n.string(1, current).string(1, `W${l}`).string(2, `mm${l}`).string(3, `layer${l}/MatMul`).string(4, 'MatMul'));
      graph.message(1, (n) => n.string(1, `mm${l}`).string(1, `b${l}`).string(2, `add${l}`).string(3, `layer${l}/Add`).string(4, 'Add'));
      graph.message(1, (n) => n.string(1, `add${l}`).string(2, out).string(3, `layer${l}/Relu`).string(4, 'Relu'));
      current = out;
    }
    graph.string(2, 'probe');
    for (let l = 0; l < layers; l++) {
      initializer(graph, `W${l}`, [width, width], weights[l] as Float32Array);
      initializer(graph, `b${l}`, [width], biases[l] as Float32Array);
    }
    const batchDim = options.batchDim ?? 'batch_size';
    valueInfo(graph, 11, inputName, [batchDim, width]);
    valueInfo(graph, 12, outputName, [batchDim, width]);
  });
  model.message(8, (opset) => opset.string(1, '').int(2, OPSET));

  const forward = (x: Float32Array, batch: number): Float32Array => {
    let h = x;
    for (let l = 0; l < layers; l++) {
      const W = weights[l] as Float32Array;
      const b = biases[l] as Float32Array;
      const out = new Float32Array(batch * width);
      for (let r = 0; r < batch; r++) {
        for (let c = 0; c < width; c++) {
          let s = b[c] as number;
          for (let k = 0; k < width; k++) s += (h[r * width + k] as number) * (W[k * width + c] as number);
          out[r * width + c] = Math.max(0, s);
        }
      }
      h = out;
    }
    return h;
  };
  return { bytes: model.finish(), inputName, outputName, width, forward };
}

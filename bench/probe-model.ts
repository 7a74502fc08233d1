/**
 * A tiny ONNX model: `y = relu(x·W + b)` repeated `layers` times on a `[batch_size, width]` float input,
 * built with onnx/'s GraphBuilder and encoder. The CUDA probe opens it at worker start-up, and tests
 * benchmark it without PyTorch or a checkpoint. Weights are deterministic from a seed.
 *
 * It must not grow into a model family: it exists to be small, fast and checkable in plain JS (`forward`).
 */
import { DEFAULT_OPSET } from '../common/export-contract';
import { GraphBuilder } from '../onnx/builder';
import { serializeModel } from '../onnx/encode';
import { float32Tensor } from '../onnx/ir';

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

export async function makeProbeModel(options: ProbeModelOptions = {}): Promise<ProbeModel> {
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
  const g = new GraphBuilder({ opset: DEFAULT_OPSET, graphName: 'probe' });
  const batchDim = options.batchDim ?? 'batch_size';
  let current = g.input(inputName, 'float32', [batchDim, width]);
  for (let l = 0; l < layers; l++) {
    const out = l === layers - 1 ? outputName : `h${l}`;
    const w = g.initializer(float32Tensor(`W${l}`, [width, width], weights[l] as Float32Array));
    const b = g.initializer(float32Tensor(`b${l}`, [width], biases[l] as Float32Array));
    const mm = g.matMul(`layer${l}`, current, w, { output: `mm${l}` });
    const add = g.add(`layer${l}`, mm, b, { output: `add${l}` });
    current = g.relu(`layer${l}`, add, { output: out });
  }
  g.output(outputName, 'float32', [batchDim, width]);
  const model = g.build({ producerName: 'onnx-export-pipeline bench/probe-model' });

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
  return { bytes: await serializeModel(model), inputName, outputName, width, forward };
}

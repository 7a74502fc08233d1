"""Measurement tool (issue 23): GPTQ-style int8 weight rounding on one of our int8 QDQ graphs.

Our quantizer rounds each per-channel int8 weight to nearest (quantize/weight-quantization.ts). GPTQ
(Frantar et al. 2022, after OBQ) keeps each output channel's scale and chooses the integer levels
column by column instead, moving each column's rounding error onto the columns not yet rounded through
the inverse Hessian of the layer's calibration inputs, H = Σ x xᵀ + damp·mean(diag H)·I (x: a Conv's
im2col patch, one small H per channel of a depthwise Conv, a Gemm's input row). It minimizes the
layer's output error ||(W − s·q) X|| on the calibration data. This tool writes those levels into a
copy of the int8 graph (same scales, biases, activations) and reports the error against the
reference's PyTorch outputs, so the idea can be re-measured on another model before anyone builds it
into quantize/ (on the convnext_tiny fixture it does not reach issue 23's target:
bench/MEASUREMENTS.md, "GPTQ weight rounding").

Runs in the project venv (onnx, onnxruntime, numpy; no torch):

    VENV=$(bash scripts/ensure-python-venv.sh | tail -1)
    $VENV/bin/python -P tools/gptq-rounding-experiment.py fp32.onnx int8.onnx \
        --calibration calibration.safetensors --reference reference.safetensors [--x fp32|seq|target] \
        [--damp 0.01] [--act-order] [--out gptq.int8.onnx]

int8.onnx is `onnx-export quantize` of fp32.onnx (any --keep-float); its quantized Conv/Gemm nodes
are found by their weight's DequantizeLinear and paired with the fp32 graph's node of the same name.
The layer inputs X (--x):
- fp32: the fp32 graph's input of each layer, from one pass over the calibration inputs;
- seq: the int8 graph's own dequantized input of each layer, earlier layers already re-rounded (one
  pass per wave of layers whose quantized ancestors are done);
- target: as seq, but the float weight aimed at is W* = argmin ||W X_fp32 − W* X_q||² + λ||W* − W||²
  (λ = --target-damp · mean diag of X_q X_qᵀ), a least-squares answer to the input's own
  quantization error, then rounded by GPTQ.
Files are in the reference-case form (docs/export-contract.md); only float32 graph inputs are fed.
Prints the errors of the plain int8 graph and of the re-rounded one, each also with every activation
Q/DQ pair removed (weights int8, activations float), as one JSON object; progress on stderr.
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ort.set_default_logger_severity(3)
THREADS = 2


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            sys.exit(f"{path}: tensor {key} has dtype {info['dtype']}; expected one of {sorted(dtypes)}")
        begin, end = info["data_offsets"]
        out[key] = np.frombuffer(data[begin:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def cases(path):
    """{case: {name: array}}: one case '' or several as `<case>/<name>`."""
    tensors = read_safetensors(path)
    grouped = {}
    for key, value in tensors.items():
        case, _, name = key.rpartition("/")
        grouped.setdefault(case, {})[name] = value
    return grouped


def attribute(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class Layer:
    """A quantized Conv or Gemm of the int8 graph, with the fp32 graph's weight of the same node."""

    def __init__(self, node, producer, initializers, fp32_initializers, fp32_nodes):
        self.name = node.name
        self.op = node.op_type
        weight_dq = producer[node.input[1]]
        self.levels_name = weight_dq.input[0]
        self.scale = numpy_helper.to_array(initializers[weight_dq.input[1]]).astype(np.float64)
        self.nearest = numpy_helper.to_array(initializers[self.levels_name])
        self.shape = self.nearest.shape
        if node.name not in fp32_nodes:
            sys.exit(f"fp32 graph: no node {node.name} (the int8 graph's quantized {self.op})")
        self.weight = numpy_helper.to_array(fp32_initializers[fp32_nodes[node.name].input[1]]).astype(np.float64)
        if self.weight.shape != self.shape:
            sys.exit(f"{node.name}: fp32 weight {self.weight.shape}, int8 weight {self.shape}")
        self.dequantized_input = node.input[0]
        self.float_input = producer[producer[node.input[0]].input[0]].input[0]
        self.group = attribute(node, "group", 1)
        self.kernel = attribute(node, "kernel_shape", None)
        self.strides = attribute(node, "strides", [1, 1])
        self.pads = attribute(node, "pads", [0, 0, 0, 0])
        if self.op == "Gemm" and attribute(node, "transB", 0) != 1:
            sys.exit(f"{node.name}: Gemm without transB=1 is not handled")
        if self.op == "Conv" and (len(self.shape) != 4 or attribute(node, "dilations", [1, 1]) != [1, 1]):
            sys.exit(f"{node.name}: only 2-D Convs without dilation are handled")
        self.depthwise = self.op == "Conv" and self.group > 1
        if self.op == "Conv" and self.group > 1 and not (self.group == self.shape[0] and self.shape[1] == 1):
            sys.exit(f"{node.name}: grouped Conv other than depthwise is not handled")

    def columns(self, x):
        """The input as the weight's columns see it: [n, cols]; depthwise: [channels, n, kh·kw]."""
        if self.op == "Gemm":
            return x.reshape(x.shape[0], -1).astype(np.float64)
        kh, kw = self.kernel
        top, left, bottom, right = self.pads
        padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
        windows = windows[:, :, :: self.strides[0], :: self.strides[1]]  # [B, C, oh, ow, kh, kw]
        if self.depthwise:
            return windows.transpose(1, 0, 2, 3, 4, 5).reshape(windows.shape[1], -1, kh * kw).astype(np.float64)
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, windows.shape[1] * kh * kw).astype(np.float64)


class Statistics:
    """Σ x xᵀ of a layer's input (and Σ x_fp32 xᵀ for --x target), accumulated batch by batch."""

    def __init__(self, layer):
        self.layer = layer
        self.hessian = 0.0
        self.cross = 0.0

    def add(self, x, x_fp32=None):
        a = self.layer.columns(x)
        self.hessian = self.hessian + np.swapaxes(a, -1, -2) @ a
        if x_fp32 is not None:
            self.cross = self.cross + np.swapaxes(self.layer.columns(x_fp32), -1, -2) @ a


def damped(h, damp):
    h = h.copy()
    dead = np.diag(h) == 0  # an input that calibration never saw non-zero: its weight cannot matter
    h[dead, dead] = 1
    h[np.diag_indices(h.shape[0])] += damp * np.mean(np.diag(h))
    return h


def gptq_levels(w, hessians, scale, damp, act_order):
    """int8 levels of w [rows, cols] (per-row scale) minimizing Σ_r (w_r − s_r q_r) H_r (w_r − s_r q_r)ᵀ.

    hessians: one [cols, cols] for every row, or [rows, cols, cols] (a depthwise Conv's channels). Each
    column is rounded to nearest, then its error, divided by the Cholesky factor's diagonal, is taken
    out of the later columns along that factor's row (the paper's update; rows are independent).
    """
    per_row = hessians.ndim == 3
    w = w.copy()
    cols = w.shape[1]
    if per_row:
        h = np.stack([damped(x, damp) for x in hessians])
        order = np.arange(cols)
    else:
        h = damped(hessians, damp)
        order = np.argsort(-np.diag(hessians), kind="stable") if act_order else np.arange(cols)
        h = h[order][:, order]
        w = w[:, order]
    upper = np.swapaxes(np.linalg.cholesky(np.linalg.inv(h)), -1, -2)  # H⁻¹ = Uᵀ U
    q = np.zeros_like(w)
    block = 128
    for start in range(0, cols, block):
        stop = min(start + block, cols)
        errors = np.zeros((w.shape[0], stop - start))
        for i in range(start, stop):
            qi = np.clip(np.rint(w[:, i] / scale), -127, 127)  # rint: half to even, as our rounding
            q[:, i] = qi
            if per_row:
                err = (w[:, i] - qi * scale) / upper[:, i, i]
                w[:, i:] -= err[:, None] * upper[:, i, i:]
            else:
                err = (w[:, i] - qi * scale) / upper[i, i]
                w[:, i:stop] -= np.outer(err, upper[i, i:stop])
                errors[:, i - start] = err
        if not per_row:
            w[:, stop:] -= errors @ upper[start:stop, stop:]
    levels = np.empty_like(q)
    levels[:, order] = q
    return levels.astype(np.int8)


def output_error(w, levels, scale, hessians):
    d = w - levels.astype(np.float64) * scale[:, None]
    if hessians.ndim == 3:
        return float(np.einsum("rk,rkl,rl->", d, hessians, d, optimize=True))
    return float(np.sum((d @ hessians) * d))


def target_weight(w, cross, hessian, target_damp):
    """W (C + λI)(Hq + λI)⁻¹: least squares from quantized inputs to the fp32 output, ridged toward W."""
    lam = target_damp * np.mean(np.diag(hessian))
    h = hessian.copy()
    h[np.diag_indices(h.shape[0])] += lam + (np.diag(hessian) == 0)
    c = cross.copy()
    c[np.diag_indices(c.shape[0])] += lam
    return np.linalg.solve(h.T, (w @ c).T).T


def rerounded(layer, stats, args):
    """The layer's GPTQ levels and its output error on the calibration data (nearest, GPTQ)."""
    w = layer.weight.reshape(layer.shape[0], -1)
    nearest = layer.nearest.reshape(layer.shape[0], -1)
    h = stats.hessian
    if args.x == "target":
        if layer.depthwise:
            w = np.stack([target_weight(w[c : c + 1], stats.cross[c], h[c], args.target_damp)[0] for c in range(len(w))])
        else:
            w = target_weight(w, stats.cross, h, args.target_damp)
    levels = gptq_levels(w, h, layer.scale, args.damp, args.act_order)
    return levels.reshape(layer.shape), output_error(w, nearest, layer.scale, h), output_error(w, levels, layer.scale, h)


def session(model, extra_outputs=()):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for name in extra_outputs:
        if name not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            have.add(name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])


def batches(model, data, batch):
    """Feeds of `batch` samples, case by case, of the graph's float inputs."""
    names = [i.name for i in model.graph.input if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT]
    for case, tensors in sorted(data.items()):
        missing = [n for n in names if n not in tensors]
        if missing:
            sys.exit(f"case {case!r}: no input {', '.join(missing)}")
        n = tensors[names[0]].shape[0]
        for i in range(0, n, batch):
            yield {name: np.ascontiguousarray(tensors[name][i : i + batch], dtype=np.float32) for name in names}


def without_activation_qdq(model):
    """A copy with every activation Q→DQ pair removed (its consumers read the float tensor)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    producer = {o: n for n in m.graph.node for o in n.output}
    alias = {}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in producer and producer[n.input[0]].op_type == "QuantizeLinear":
            alias[n.output[0]] = producer[n.input[0]].input[0]
    kept = []
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear" or (n.op_type == "DequantizeLinear" and n.output[0] in alias):
            continue
        for i, x in enumerate(n.input):
            n.input[i] = alias.get(x, x)
        kept.append(n)
    del m.graph.node[:]
    m.graph.node.extend(kept)
    return m


def with_levels(model, layers, levels):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    initializers = {i.name: i for i in m.graph.initializer}
    for layer in layers:
        if layer.name in levels:
            initializers[layer.levels_name].CopyFrom(numpy_helper.from_array(levels[layer.name], layer.levels_name))
    return m


def errors(model, reference):
    """Mean |model − PyTorch| per output over every reference case."""
    s = session(model)
    outputs = [o.name for o in model.graph.output]
    total = {}
    for case, tensors in sorted(reference.items()):
        feed = next(batches(model, {case: tensors}, 1 << 30))
        for name, value in zip(outputs, s.run(outputs, feed)):
            if name in tensors:
                total.setdefault(name, []).append(np.abs(value - tensors[name]).ravel())
    return {name: float(np.mean(np.concatenate(parts))) for name, parts in total.items()}


def quantized_ancestors(model, layers):
    producer = {o: n for n in model.graph.node for o in n.output}
    names = {layer.name for layer in layers}
    memo = {}

    def upstream(tensor):
        stack, seen, found = [tensor], set(), set()
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            if t in memo:
                found |= memo[t]
                continue
            node = producer.get(t)
            if node is not None:
                if node.name in names:
                    found.add(node.name)
                stack.extend(node.input)
        memo[tensor] = found
        return found

    return {layer.name: upstream(layer.dequantized_input) - {layer.name} for layer in layers}


def log(message):
    print(message, file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("fp32")
    p.add_argument("int8")
    p.add_argument("--calibration", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--x", choices=["fp32", "seq", "target"], default="fp32", help="where the layer inputs come from")
    p.add_argument("--damp", type=float, default=0.01, help="dampening, a share of H's mean diagonal")
    p.add_argument("--act-order", action="store_true", help="round columns in order of decreasing H diagonal")
    p.add_argument("--target-damp", type=float, default=1.0, help="--x target: λ as a share of mean diag Hq")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", help="write the re-rounded int8 graph here")
    args = p.parse_args()
    started = time.time()
    int8 = onnx.load(args.int8)
    fp32 = onnx.load(args.fp32)
    calibration = cases(args.calibration)
    reference = cases(args.reference)
    producer = {o: n for n in int8.graph.node for o in n.output}
    initializers = {i.name: i for i in int8.graph.initializer}
    fp32_initializers = {i.name: i for i in fp32.graph.initializer}
    fp32_nodes = {n.name: n for n in fp32.graph.node}
    layers = [
        Layer(n, producer, initializers, fp32_initializers, fp32_nodes)
        for n in int8.graph.node
        if n.op_type in ("Conv", "Gemm") and n.input[1] in producer and producer[n.input[1]].op_type == "DequantizeLinear"
    ]
    log(f"{len(layers)} quantized Conv/Gemm layers; x={args.x}")
    levels, nearest_error, gptq_error = {}, 0.0, 0.0
    current = int8
    pending = quantized_ancestors(int8, layers) if args.x != "fp32" else {layer.name: set() for layer in layers}
    done, passes = set(), 0
    while len(done) < len(layers):
        wave = [layer for layer in layers if layer.name not in done and pending[layer.name] <= done]
        passes += 1
        stats = {layer.name: Statistics(layer) for layer in wave}
        if args.x == "fp32":
            fp32_names = sorted({layer.float_input for layer in wave})
            s = session(fp32, fp32_names)
            for feed in batches(fp32, calibration, args.batch):
                out = dict(zip(fp32_names, s.run(fp32_names, feed)))
                for layer in wave:
                    stats[layer.name].add(out[layer.float_input])
        else:
            q_names = sorted({layer.dequantized_input for layer in wave})
            s = session(current, q_names)
            f = session(fp32, [layer.float_input for layer in wave]) if args.x == "target" else None
            f_names = sorted({layer.float_input for layer in wave})
            for feed in batches(int8, calibration, args.batch):
                out = dict(zip(q_names, s.run(q_names, feed)))
                fout = dict(zip(f_names, f.run(f_names, feed))) if f else {}
                for layer in wave:
                    stats[layer.name].add(out[layer.dequantized_input], fout.get(layer.float_input))
        for layer in wave:
            levels[layer.name], e_nearest, e_gptq = rerounded(layer, stats[layer.name], args)
            nearest_error += e_nearest
            gptq_error += e_gptq
            done.add(layer.name)
        current = with_levels(int8, layers, levels)
    seconds = time.time() - started
    log(f"re-rounded in {seconds:.1f} s ({passes} calibration passes)")
    result = {
        "fp32": args.fp32,
        "int8": args.int8,
        "calibration": args.calibration,
        "reference": args.reference,
        "x": args.x,
        "damp": args.damp,
        "actOrder": args.act_order,
        "targetDamp": args.target_damp if args.x == "target" else None,
        "layers": len(layers),
        "calibrationPasses": passes,
        "seconds": round(seconds, 1),
        "layerOutputError": {"nearest": nearest_error, "gptq": gptq_error},
        "mae": {
            "nearest": errors(int8, reference),
            "nearestWeightsOnly": errors(without_activation_qdq(int8), reference),
            "gptq": errors(current, reference),
            "gptqWeightsOnly": errors(without_activation_qdq(current), reference),
        },
    }
    if args.out:
        onnx.save(current, args.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

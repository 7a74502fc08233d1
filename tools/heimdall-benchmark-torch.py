#!/usr/bin/python3
"""Benchmark helper, torch side, for tools/heimdall-benchmark.ts: one Heimdall model per process.

  export --model M --weights FILE --out FILE [--call service|dynamic]
      torch.onnx.export called as the training service calls it (spec section 4: opset 14,
      do_constant_folding, export_params, dynamo=False on torch 2.x, its dummies, names and dynamic
      axes; HeimdallNet's aten::atan2 gets torch 2.x's symbolic on torch 1.13, which has none), via
      scripts/fixtures/make_heimdall_bundle.py's export_onnx. `--call dynamic` is the correct export
      (batch, receivers and IQ length symbolic): IQResNet18's "proper dummy" (the service's own call
      fails on it) and the torch graph the latency comparison runs.
  eager --model M --weights FILE [--batches 1,32] [--receivers 7] [--length 10000]
      PyTorch eager latency (eval, no_grad) per batch size: warm-up, then timed runs until
      --max-runs or --budget-seconds, min/p50/mean/max in ms.
The weights (model.safetensors, a .pth or a .ckpt) go into heimdall_models.py's module, so both
sides run the same numbers. Prints one JSON line: the import, model-building and export-call seconds
(export), or the latencies (eager); the caller measures the whole process (/usr/bin/time -v). Runs
under Debian's torch 1.13 and the torch 2.x venv; writes nothing but --out.
"""
import time

PROCESS_STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402

IMPORTED = time.perf_counter()
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
from heimdall_models import MODEL_NAMES, HeimdallNet, IQResNet18, TriangulationModel  # noqa: E402
from make_heimdall_bundle import SERVICE_OPSET, export_onnx, stream  # noqa: E402
from weights_files import load_state_dict  # noqa: E402

CALIBRATION_PREFIX = "receiver_encoder.calibration_layers."
EMBEDDINGS = "receiver_encoder.receiver_embeddings.weight"
DEFAULT_MAX_RECEIVERS = 10


def build(model_name, weights):
    """The model with the file's weights (strict), eval; R from HeimdallNet's embedding table."""
    state = load_state_dict(weights)
    if model_name == "heimdall_net":
        max_receivers = state[EMBEDDINGS].shape[0]
        model = HeimdallNet(max_receivers, any(k.startswith(CALIBRATION_PREFIX) for k in state))
    elif model_name == "triangulation_model":
        max_receivers, model = DEFAULT_MAX_RECEIVERS, TriangulationModel()
    else:
        max_receivers, model = DEFAULT_MAX_RECEIVERS, IQResNet18(DEFAULT_MAX_RECEIVERS)
    model.load_state_dict(state, strict=True)
    return model.eval(), max_receivers


def eager_inputs(model_name, batch, receivers, length, max_receivers):
    gen = torch.Generator().manual_seed(batch)
    if model_name == "heimdall_net":
        positions = torch.randn(batch, receivers, 3, generator=gen)
        return (torch.randn(batch, receivers, 2, length, generator=gen),
                torch.cat([torch.randn(batch, receivers, 3, generator=gen), positions], -1), positions,
                torch.arange(receivers).clamp(max=max_receivers - 1).expand(batch, receivers).clone(),
                torch.ones(batch, receivers, dtype=torch.bool))
    if model_name == "triangulation_model":
        return torch.randn(batch, receivers, 6, generator=gen), torch.zeros(batch, receivers, dtype=torch.bool)
    return torch.randn(batch, receivers, 2, length, generator=gen), torch.zeros(batch, receivers, dtype=torch.bool)


@torch.no_grad()
def eager(model, model_name, max_receivers, args):
    results = {}
    for batch in args.batches:
        inputs = eager_inputs(model_name, batch, args.receivers, args.length, max_receivers)
        for _ in range(args.warmup):
            model(*inputs)
        times, started = [], time.perf_counter()
        while len(times) < args.max_runs and (len(times) < args.min_runs or time.perf_counter() - started < args.budget_seconds):
            tick = time.perf_counter()
            model(*inputs)
            times.append((time.perf_counter() - tick) * 1000)
        results[str(batch)] = {"runs": len(times), "min_ms": min(times), "p50_ms": statistics.median(times),
                               "mean_ms": statistics.fmean(times), "max_ms": max(times)}
    return results


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("export", "eager"))
    parser.add_argument("--model", required=True, choices=MODEL_NAMES)
    parser.add_argument("--weights", required=True, help="model.safetensors, a .pth or a .ckpt")
    parser.add_argument("--out", help="export: the .onnx to write")
    parser.add_argument("--call", default="service", choices=("service", "dynamic"), help="export: which call")
    parser.add_argument("--batches", default="1,32", help="eager: batch sizes")
    parser.add_argument("--receivers", type=int, default=7, help="eager: N")
    parser.add_argument("--length", type=int, default=10_000, help="eager: IQ length L")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the machine's 2 cores)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min-runs", type=int, default=5)
    parser.add_argument("--max-runs", type=int, default=50)
    parser.add_argument("--budget-seconds", type=float, default=20.0, help="eager: timing budget per batch size")
    args = parser.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",")]
    torch.set_num_threads(args.threads)
    tick = time.perf_counter()
    model, max_receivers = build(args.model, args.weights)
    built = time.perf_counter() - tick
    report = {"mode": args.mode, "model": args.model, "torch": torch.__version__, "threads": args.threads,
              "import_seconds": IMPORTED - PROCESS_STARTED, "build_seconds": built, "max_receivers": max_receivers}
    if args.mode == "export":
        if not args.out:
            parser.error("export needs --out")
        timings = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_onnx(model, args.model, args.call, args.out, SERVICE_OPSET, max_receivers, 1,
                        stream(0, "dummy"), timings=timings)
        report.update(call=args.call, opset=SERVICE_OPSET, onnx_bytes=os.path.getsize(args.out), **timings)
    else:
        report.update(receivers=args.receivers, length=args.length, batches=eager(model, args.model, max_receivers, args))
    report["in_process_seconds"] = time.perf_counter() - PROCESS_STARTED
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])

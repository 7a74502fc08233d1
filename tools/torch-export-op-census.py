#!/usr/bin/python3
"""Lists the ONNX op types torch's exporters write for the three Heimdall models, per opset.

Exports heimdall_net (the service's export: torch 2.x's atan2, batch-1 dummy), triangulation_model
and iq_resnet18 (their dynamic exports) with the running torch's TorchScript exporter and, on torch 2.x,
its dynamo exporter, at each requested opset, and records for each (exporter, torch version, model,
opset) the sorted op types of the graph, its functions and subgraphs (`domain::OpType` when the domain
is not ai.onnx), or the exporter's error. The result merges into --out (default
test/fixtures/torch-export-ops.json): entries of other torch versions or exporters stay. It is data for
the structural checker's op schemas, nothing more: it never judges a graph.

Runs with any python that has torch (Debian's 1.13: opsets 14-17; a torch 2.x venv: 14-20 and dynamo).
Reads the exported model with a small protobuf reader of its own, so it needs no onnx package.
"""
import argparse
import json
import linecache
import os
import re
import sys
import tempfile
import time
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "fixtures"))
from make_heimdall_bundle import TORCH_MAJOR, export_plan, register_atan2  # noqa: E402
from heimdall_models import MODEL_NAMES, build_model  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "..", "test", "fixtures", "torch-export-ops.json")
# The export each model is censused with: the one its bundles use (HeimdallNet has no correct export).
CENSUS_EXPORT = {"heimdall_net": "service", "triangulation_model": "dynamic", "iq_resnet18": "dynamic"}
# Ops do not depend on the IQ length (seq_len is dynamic); a short dummy keeps the census fast.
CENSUS_IQ_LENGTH = 1024
MAX_OPSET = 17 if TORCH_MAJOR < 2 else 20


# ---------------------------------------------------------------- protobuf wire format (just enough)


def varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(buf):
    """(field number, wire type, value) for each field of one message; length-delimited values as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


# ModelProto.graph = 7, opset_import = 8, functions = 25; GraphProto.node = 1; NodeProto.op_type = 4,
# domain = 7, attribute = 5; AttributeProto.g = 6, graphs = 11; FunctionProto.name = 1, node = 7, domain = 10;
# OperatorSetIdProto.domain = 1, version = 2.
def node_ops(node, ops):
    op_type = domain = ""
    for number, _, value in fields(node):
        if number == 4:
            op_type = value.decode()
        elif number == 7:
            domain = value.decode()
        elif number == 5:
            for a_number, _, a_value in fields(value):
                if a_number in (6, 11):
                    graph_ops(a_value, ops)
    ops.add((domain, op_type))


def graph_ops(graph, ops):
    for number, _, value in fields(graph):
        if number == 1:
            node_ops(value, ops)


def model_census(path):
    with open(path, "rb") as f:
        model = f.read()
    ops, functions, opsets = set(), set(), {}
    for number, _, value in fields(model):
        if number == 7:
            graph_ops(value, ops)
        elif number == 8:
            entry = {n: v for n, _, v in fields(value)}
            opsets[entry.get(1, b"").decode() or "ai.onnx"] = entry.get(2, 0)
        elif number == 25:
            name = domain = ""
            for f_number, _, f_value in fields(value):
                if f_number == 1:
                    name = f_value.decode()
                elif f_number == 10:
                    domain = f_value.decode()
                elif f_number == 7:
                    node_ops(f_value, ops)
            functions.add((domain, name))
    ops -= functions  # a call to a local function is not an op; the function's own nodes are counted
    names = sorted(op if domain in ("", "ai.onnx") else f"{domain}::{op}" for domain, op in ops)
    return {"ops": names, "opset_imports": dict(sorted(opsets.items())),
            "functions": sorted(f"{d}::{n}" for d, n in functions)}


# ---------------------------------------------------------------- exports


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def root_cause(error):
    """The innermost error's type and first line, and where it was raised in our code when torch says so."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = ANSI.sub("", str(error)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    where = next((line for line in lines if line.startswith("Caused by:")), "")
    located = re.search(r"([\w.-]+\.py):(\d+) in (\w+)", where)
    summary = f"{type(error).__name__}: {lines[0] if lines else ''}"
    if located:  # the source line, not its number, so the file does not churn when the model file is edited
        source = os.path.join(HERE, "..", "scripts", "fixtures", located.group(1))
        code = linecache.getline(source, int(located.group(2))).strip()
        summary += f" (at {located.group(1)}, {located.group(3)}: {code})"
    return summary[:400]


def export_one(model_name, exporter, opset, path):
    model = build_model(model_name, seed=3)
    gen = torch.Generator().manual_seed(3)
    export = CENSUS_EXPORT[model_name]
    dummy, input_names, output_names, axes = export_plan(model_name, export, 10, 1, gen, CENSUS_IQ_LENGTH)
    kwargs = dict(opset_version=opset, input_names=input_names, output_names=output_names, dynamic_axes=axes)
    if exporter == "torchscript":
        if model_name == "heimdall_net" and TORCH_MAJOR < 2:
            register_atan2(export)
        kwargs.update(export_params=True, do_constant_folding=True)
        if TORCH_MAJOR >= 2:
            kwargs["dynamo"] = False
    else:
        kwargs.update(dynamo=True, external_data=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, dummy, path, **kwargs)


def census(exporters, opsets, models):
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for exporter in exporters:
            for model_name in models:
                for opset in opsets:
                    entry = {"exporter": exporter, "torch": torch.__version__, "model": model_name,
                             "export": CENSUS_EXPORT[model_name], "opset": opset}
                    path = os.path.join(tmp, f"{exporter}-{model_name}-{opset}.onnx")
                    started = time.perf_counter()
                    try:
                        export_one(model_name, exporter, opset, path)
                        entry.update(model_census(path))
                        written = entry["opset_imports"].get("ai.onnx")
                        if written != opset:
                            entry["note"] = f"requested opset {opset}; the exporter wrote ai.onnx {written}"
                    except Exception as error:  # the exporter's own failure is the datum
                        entry["error"] = root_cause(error)
                    entry["seconds"] = round(time.perf_counter() - started, 2)
                    print(json.dumps({k: entry[k] for k in ("exporter", "model", "opset", "seconds")}
                                     | ({"error": entry["error"][:120]} if "error" in entry else
                                        {"ops": len(entry["ops"])})), file=sys.stderr)
                    entries.append(entry)
    return entries


def merge(path, entries):
    """Replaces the entries of the same (exporter, torch, model, opset); keeps all others."""
    existing = []
    if os.path.exists(path):
        with open(path) as f:
            existing = json.load(f)["entries"]
    key = lambda e: (e["exporter"], e["torch"], e["model"], e["opset"])  # noqa: E731
    fresh = {key(e) for e in entries}
    merged = sorted([e for e in existing if key(e) not in fresh] + entries, key=key)
    for entry in merged:
        entry.pop("seconds", None)  # timings vary run to run; the file should not
    document = {
        "about": "ONNX op types written by torch.onnx.export for the Heimdall models (tools/torch-export-op-census.py). "
                 "ops: sorted op types of the graph, its subgraphs and functions; 'domain::OpType' outside ai.onnx. "
                 "error: the exporter's failure (innermost cause). note: the graph's opset differs from the requested one.",
        "entries": merged,
    }
    with open(path, "w") as f:  # one line per entry, so a re-run's diff shows which entries changed
        f.write('{\n  "about": ' + json.dumps(document["about"]) + ',\n  "entries": [\n')
        f.write(",\n".join("    " + json.dumps(entry) for entry in merged))
        f.write("\n  ]\n}\n")


def parse_opsets(text):
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--opsets", default=f"14-{MAX_OPSET}", help="e.g. 14-17 (torch 1.13) or 14-20")
    parser.add_argument("--exporters", default="torchscript" if TORCH_MAJOR < 2 else "torchscript,dynamo")
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    args = parser.parse_args(argv)
    exporters = args.exporters.split(",")
    if "dynamo" in exporters and TORCH_MAJOR < 2:
        parser.error(f"torch {torch.__version__} has no dynamo exporter")
    merge(os.path.abspath(args.out), census(exporters, parse_opsets(args.opsets), args.models.split(",")))


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Print the onnx package's own schemas of ai.onnx operators, as JSON, for comparing with ours.

Usage: onnx-op-schemas.py FIRST_OPSET LAST_OPSET OP [OP ...]
Prints {"<op>": {"<opset>": null | {"since", "inputs": [min, max], "outputs": [min, max],
"attributes": {"<name>": {"type", "required"}}}}}; max is null for variadic. Attribute types are
our IR's names (int, float, string, ints, floats, tensor); a type the IR cannot hold (strings, graph)
is reported as its onnx name. It runs in the stack's virtualenv (scripts/ensure-python-venv.sh).
"""
import json
import sys

import onnx
import onnx.defs

T = onnx.AttributeProto.AttributeType
IR_TYPES = {
    T.INT: "int",
    T.FLOAT: "float",
    T.STRING: "string",
    T.INTS: "ints",
    T.FLOATS: "floats",
    T.TENSOR: "tensor",
    T.SPARSE_TENSOR: "tensor",
}
VARIADIC = 2**31 - 1


def schema_at(op: str, opset: int):
    try:
        s = onnx.defs.get_schema(op, opset, "")
    except onnx.defs.SchemaError:
        return None
    if s.deprecated:
        return None
    return {
        "since": s.since_version,
        "inputs": [s.min_input, None if s.max_input >= VARIADIC else s.max_input],
        "outputs": [s.min_output, None if s.max_output >= VARIADIC else s.max_output],
        "attributes": {
            name: {"type": IR_TYPES.get(a.type, T.Name(a.type)), "required": bool(a.required)}
            for name, a in sorted(s.attributes.items())
        },
    }


def main(argv: list) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    first, last, ops = int(argv[0]), int(argv[1]), argv[2:]
    print(json.dumps({op: {str(v): schema_at(op, v) for v in range(first, last + 1)} for op in ops}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Writes reference.safetensors for a HeimdallNet training result (`best_model.pth`), with the docs' snippet.

The step of the training side that needs torch and the model's code, so the Python training parent
(heimdall_training_parent.py) runs it with the training environment's interpreter, apart from its
Temporal worker:
    python heimdall_reference.py --checkpoint best_model.pth --out reference.safetensors [--seed N]
It loads the checkpoint as the training service saved it (spec section 4: weights under
`model_state_dict`, settings under `config`), builds HeimdallNet with the checkpoint's max_receivers
(and calibration when its keys have it), loads the weights strictly, and writes two cases with
`write_reference`, the function docs/export-contract.md shows (scripts/fixtures/reference_snippet.py):
  r7: 3 samples × 7 receivers × 1024 IQ samples, ids 0..6 as the training task sends them, the last
      sample's last two receivers padding;
  r4: 2 samples × 4 receivers × 2048, each sample's ids a random choice of distinct stations.
Inputs are drawn as the training task fills them (features [SNR, PSD, freq_offset, lat, lon, alt] with
centroid-relative lat/lon and alt 0). Prints one JSON line: the cases' shapes and the settings used.

The model's code here is the spec's re-implementation (scripts/fixtures/heimdall_models.py), standing in
for the service's own `src/models/heimdall_net.py`; `--model-code DIR` points at another folder holding a
`heimdall_models` module with the same `HeimdallNet(max_receivers, use_calibration)`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "scripts" / "fixtures"
CALIBRATION_PREFIX = "receiver_encoder.calibration_layers."
OUTPUT_NAMES = ["position", "uncertainty"]


def heimdall_inputs(gen: torch.Generator, ids: torch.Tensor, length: int, active: torch.Tensor) -> dict:
    """One case's inputs in forward's order: iq_data, features, positions, receiver_ids, mask (True = active)."""
    batch, receivers = ids.shape
    latlon = torch.randn(batch, receivers, 2, generator=gen) * 0.05
    positions = torch.cat([latlon, torch.zeros(batch, receivers, 1)], dim=-1)
    signal = torch.randn(batch, receivers, 3, generator=gen)
    return {
        "iq_data": torch.randn(batch, receivers, 2, length, generator=gen),
        "features": torch.cat([signal, positions], dim=-1),
        "positions": positions,
        "receiver_ids": ids,
        "mask": active,
    }


def reference_cases(seed: int, max_receivers: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    n7 = min(7, max_receivers)
    active7 = torch.ones(3, n7, dtype=torch.bool)
    active7[-1, -2:] = False
    ids7 = torch.arange(n7).clamp(max=max_receivers - 1).expand(3, n7).clone()
    n4 = min(4, max_receivers)
    ids4 = torch.stack([torch.randperm(max_receivers, generator=gen)[:n4] for _ in range(2)])
    return {
        "r7": heimdall_inputs(gen, ids7, 1024, active7),
        "r4": heimdall_inputs(gen, ids4, 2048, torch.ones(2, n4, dtype=torch.bool)),
    }


def load_model(checkpoint_path: Path, model_code: Path) -> tuple[torch.nn.Module, dict]:
    checkpoint = torch.load(checkpoint_path, map_location="cpu")
    config = checkpoint.get("config", {})
    if config.get("model_architecture") != "heimdall_net":
        raise SystemExit(f"{checkpoint_path}: config.model_architecture is {config.get('model_architecture')!r}, "
                         "not 'heimdall_net'")
    state = checkpoint["model_state_dict"]
    settings = {"max_receivers": int(config["max_receivers"]),
                "use_calibration": any(key.startswith(CALIBRATION_PREFIX) for key in state)}
    sys.path.insert(0, str(model_code))
    from heimdall_models import HeimdallNet  # the training code's model class

    model = HeimdallNet(**settings)
    model.load_state_dict(state, strict=True)
    return model.eval(), settings


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="the training result, best_model.pth")
    parser.add_argument("--out", required=True, type=Path, help="reference.safetensors to write")
    parser.add_argument("--seed", type=int, default=0, help="the cases' inputs (default 0)")
    parser.add_argument("--model-code", type=Path, default=FIXTURES, help="folder of the heimdall_models module")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(FIXTURES))
    from reference_snippet import write_reference  # the docs' snippet, exactly

    model, settings = load_model(args.checkpoint, args.model_code)
    cases = reference_cases(args.seed, settings["max_receivers"])
    write_reference(str(args.out), model, cases, OUTPUT_NAMES)
    print(json.dumps({"cases": {case: {name: list(t.shape) for name, t in inputs.items()}
                                for case, inputs in cases.items()}, **settings, "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv[1:])

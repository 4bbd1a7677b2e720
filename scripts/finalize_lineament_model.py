"""Turn a trained lineament model into the shipped artefact: measure it, write its card.

    python scripts/finalize_lineament_model.py runs/v2/lineaments_vgg16bn_unet.safetensors \
        --out geocore/lineaments/models/lineaments_vgg16bn_unet.safetensors --notes "..."

Runs the paper's validation protocol (100 fresh grids, 6-10 dykes, seed 90210) on the
``paper`` and ``realistic`` presets, stores both in the card's ``metrics`` next to the
training split's figures, and writes the fp16 .safetensors (card embedded) and the .json
card atomically. The training command, seed and parent model stay as training wrote them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocore.lineaments.evaluate import evaluate_model  # noqa: E402
from geocore.models.network import load_model, save_model  # noqa: E402

EVALUATION = "geocore lineaments evaluate --grids 100 --min-dykes 6 --max-dykes 10 --seed 90210 --preset paper|realistic"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--notes", default=None, help="replace the card's notes")
    ap.add_argument("--grids", type=int, default=100)
    args = ap.parse_args()

    model, card = load_model(args.model, device="cpu")
    metrics = dict(card.metrics or {})
    for key, preset in (("paper_validation_protocol", "paper"), ("realistic_validation", "realistic")):
        m = evaluate_model(args.model, n_grids=args.grids, preset=preset, device="cpu")
        metrics[key] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
        print(preset, {k: metrics[key][k] for k in ("pixel_accuracy", "iou", "f1", "axis_recall", "axis_precision")},
              flush=True)
    metrics["evaluation_command"] = EVALUATION
    card.metrics = metrics
    if args.notes:
        card.notes = args.notes
    save_model(model, card, args.out)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

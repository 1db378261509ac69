"""Writes the PyTorch reference activations of trained weights (a train_v2 / train_gpt2 .npz and its cfg.json) on one
fixed text, in the golden.json layout of tests/fixtures/models, so that tools/check-model-hooks.ts can check that the
engine's hooks on the exported ONNX graph equal them to 1e-4.

  /usr/bin/python3 tools/py/model_golden.py --weights runs/v2/vanilla.npz --cfg runs/v2/cfg.json --out /tmp/golden.json
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_fixtures import attention_internals, r  # noqa: E402
from train_gpt2 import DEFAULT_CFG, load_model_from_npz  # noqa: E402

# "<|endoftext|>The jury said that the jury" in GPT-2 ids, then a few more ids: the repeat makes some heads attend
# far back, so patterns are not all near-diagonal.
IDS = [50256, 464, 9002, 531, 326, 262, 9002, 531, 326, 262, 2717, 11, 290, 262, 1992, 13]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--cfg", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cfg = dict(DEFAULT_CFG)
    cfg.update(json.load(open(a.cfg)))
    model = load_model_from_npz(a.weights, cfg)
    global IDS
    if cfg["vocab_size"] < 50257:  # a cut vocabulary (issue 21): <|endoftext|> is its last id; the repeat kept
        IDS = [cfg["vocab_size"] - 1] + [i % (cfg["vocab_size"] - 1) for i in IDS[1:]]
    ids = torch.tensor([IDS])
    pos = torch.arange(len(IDS))[None]
    trace = []
    with torch.no_grad():
        logits, _ = model(ids, torch.ones_like(ids), pos, None, trace)
        g = {"source": f"PyTorch float32 forward of {a.weights} (tools/py/model_golden.py)", "torch_version": torch.__version__,
             "n_layer": cfg["n_layer"], "n_head": cfg["n_head"], "d_model": cfg["n_embd"], "vocab": cfg["vocab_size"],
             "input_ids": IDS, "position_ids": list(range(len(IDS))), "attention_mask": [1] * len(IDS),
             "resid_pre": [], "resid_mid": [], "resid_post": [], "attn_out": [], "pattern": [], "v": [], "value_norm": []}
        worst = 0.0
        for blk, tr in zip(model.transformer.h, trace[:-1]):
            x = tr["resid_pre"][0]
            pattern, v, value_norm, attn_out = attention_internals(blk, x)
            worst = max(worst, (x + attn_out - tr["resid_mid"][0]).abs().max().item())
            for key in ("resid_pre", "resid_mid", "resid_post"):
                g[key].append(r(tr[key][0]))
            g["attn_out"].append(r(attn_out))
            g["pattern"].append(r(pattern))
            g["v"].append(r(v))
            g["value_norm"].append(r(value_norm))
        assert worst < 1e-4, f"recomputed attention disagrees with the forward pass by {worst}"
        g["ln_final"] = r(trace[-1]["ln_final"][0])
        g["logits"] = r(logits[0])
    with open(a.out, "w") as f:
        json.dump(g, f)
    print(f"wrote {a.out}: {len(IDS)} tokens, {cfg['n_layer']} layers", flush=True)


if __name__ == "__main__":
    main()

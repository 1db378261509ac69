"""Writes the weights of a train_cpu.py checkpoint in the layout tools/finish_cpu.sh reads, so that the exported models
are the run's last step rather than the trainer's best-by-validation files (which, in a run that trades held-out loss
for an induction circuit and then wins it back, can be weights from before the circuit formed).

  python3 tools/py/ckpt_weights.py ~/train/gpt2-8l8k ~/train/gpt2-8l8k-final

DEST gets cfg.json and, per twin, vanilla.npz / myopic.npz (GPT-2; float16, as the trainer writes them) or
vanilla.pt / myopic.pt (RWKV: {cfg, state_dict}), plus step.json naming the checkpoint's step and tokens.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_v2 import NAMES, save_npz  # noqa: E402


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: ckpt_weights.py <train_cpu.py --out folder> <destination folder>")
    src, dst = sys.argv[1:]
    ckpt = os.path.join(src, "ckpt.pt")
    if not os.path.exists(ckpt):
        raise SystemExit(f"{ckpt}: not found")
    c = torch.load(ckpt, map_location="cpu")
    os.makedirs(dst, exist_ok=True)
    cfg = c["cfg"]
    with open(os.path.join(dst, "cfg.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    rwkv = "n_positions" not in cfg
    for n in NAMES:
        sd = c["models"][n]
        if rwkv:  # train_cpu.RwkvLM wraps the model as .rwkv; rwkv_export.py reads the inner state dict
            inner = {k[len("rwkv."):]: v for k, v in sd.items() if k.startswith("rwkv.")}
            torch.save({"cfg": cfg, "state_dict": inner}, os.path.join(dst, f"{n}.pt"))
        else:
            save_npz(sd, os.path.join(dst, f"{n}.npz"))
    step = {"step": c["state"]["step"], "tokens": c["state"]["tokens"], "checkpoint": os.path.abspath(ckpt)}
    with open(os.path.join(dst, "step.json"), "w") as f:
        json.dump(step, f, indent=1)
    print(f"wrote {dst}: step {step['step']}, {step['tokens']} tokens per model")


if __name__ == "__main__":
    main()

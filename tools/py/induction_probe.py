"""Looks inside a train_cpu.py checkpoint for the parts of an induction circuit (issue 21; the figures in
tools/README-training.md, "What the run showed about induction"):

  python3 tools/py/induction_probe.py ~/train/gpt2-8k/ckpt.pt --data ~/train/corpus8k [--model vanilla]

- previous-token attention: for each layer and head, the mean attention weight from position i to i - 1 over
  held-out State of the Union windows (20 x 100 tokens). A previous-token head puts most of its weight there.
- induction attention: on the repeat test's rows (BOS + 50 random ids + the same 50), the mean weight from each
  position of the second copy to the position after the previous occurrence of its token.
- copying: loss on the first, second and later copies of rows made of one random pattern repeated (as the trainer's
  synthetic rows), for several pattern lengths, next to ln(length) (what spreading the prediction evenly over the
  pattern's ids would cost); and the same for patterns drawn from the 500 most frequent training tokens.
GPT-2 layout only.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_fixtures import attention_internals  # noqa: E402
from gpt2_model import GPT2LMHeadModel  # noqa: E402
from train_v2 import REPEAT, load_corpus, repeat_rows  # noqa: E402


def attention_maps(model, x):
    """Each layer's attention weights [B,H,T,T] for rows x [B,T]: the blocks' inputs from the model's trace, the
    weights from export_fixtures.attention_internals (the same recomputation the golden files use)."""
    per_row = []
    with torch.no_grad():
        for row in x:
            trace = []
            model(row[None], position_ids=torch.arange(row.numel())[None], trace=trace)
            per_row.append([attention_internals(blk, tr["resid_pre"][0])[0] for blk, tr in zip(model.transformer.h, trace)])
    return [torch.stack([maps[layer] for maps in per_row]) for layer in range(len(model.transformer.h))]


def copy_losses(model, rows, length):
    x = torch.stack(rows)
    with torch.no_grad():
        logits, _ = model(x[:, :-1], position_ids=torch.arange(x.size(1) - 1).expand(x.size(0), -1))
    loss = F.cross_entropy(logits.float().transpose(1, 2), x[:, 1:], reduction="none").mean(0)
    later = loss[2 * length:].mean().item() if 2 * length < loss.numel() else float("nan")
    return loss[:length].mean().item(), loss[length + 1:2 * length].mean().item(), later


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ckpt")
    p.add_argument("--data", required=True, help="the corpus folder the run trains on")
    p.add_argument("--model", default="vanilla", choices=("vanilla", "myopic"))
    a = p.parse_args()
    torch.set_num_threads(1)
    c = torch.load(a.ckpt, map_location="cpu")
    cfg = c["cfg"]
    if "n_positions" not in cfg:
        raise SystemExit(f"{a.ckpt}: not a GPT-2-layout checkpoint")
    model = GPT2LMHeadModel(cfg)
    model.load_state_dict(c["models"][a.model])
    model.eval()
    man, train, vals, _ = load_corpus(a.data)
    eot, vocab = int(man["eot"]), int(man["eot"]) + 1
    print(f"{a.ckpt}: step {c['state']['step']}, {a.model}")

    v = torch.from_numpy(vals["sotu"].astype(np.int64))
    text = torch.stack([v[i * 997:i * 997 + 100] for i in range(20)])
    rep = repeat_rows(eot, vocab)[:, :-1]
    L = REPEAT["length"]
    for layer, (wt, wr) in enumerate(zip(attention_maps(model, text), attention_maps(model, rep))):
        i = torch.arange(1, text.size(1))
        prev = wt[:, :, i, i - 1].mean((0, 2))
        j = torch.arange(L + 1, 2 * L)
        ind = wr[:, :, j, j - L + 1].mean((0, 2))
        print(f"layer {layer}: previous-token {' '.join(f'{x:.2f}' for x in prev.tolist())} | "
              f"induction {' '.join(f'{x:.2f}' for x in ind.tolist())}")

    g = torch.Generator().manual_seed(3)
    order = np.argsort(-np.bincount(train, minlength=vocab))
    frequent = torch.from_numpy(order[:500].copy())
    n = min(128, cfg["n_positions"]) + 1
    for name, pool in (("uniform ids", None), ("500 most frequent", frequent)):
        for length in (2, 8, 20, 50):
            rows = []
            for _ in range(16):
                pat = torch.randint(0, eot, (length,), generator=g) if pool is None else pool[torch.randint(0, len(pool), (length,), generator=g)]
                rows.append(torch.cat([torch.tensor([eot]), pat.repeat(n // length + 1)])[:n])
            first, second, later = copy_losses(model, rows, length)
            print(f"copying, {name}, pattern of {length}: first copy {first:.2f}, second {second:.2f}, later {later:.2f}, "
                  f"ln {length} = {math.log(length):.2f}")


if __name__ == "__main__":
    main()

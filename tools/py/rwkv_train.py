"""Trains tools/py/rwkv_model.py's RWKV-5 on the CPU for a fixed wall-clock budget (the parallel form of the WKV sums),
on the State of the Union + Brown stretch of data/corpus/train.bin (tokens 0..3,124,068: the training split of the
bundled GPT-2 pair), and saves {cfg, state_dict} for rwkv_export.py.

  /usr/bin/python3 tools/py/rwkv_train.py --out runs/rwkv/model.pt --time-budget 300"""
import argparse
import json
import math
import os
import sys
import time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from rwkv_model import RWKV, RWKVConfig  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/corpus")
    p.add_argument("--sources", default="sotu,brown", help="manifest sources whose trainRange is trained on")
    p.add_argument("--out", default="runs/rwkv/model.pt")
    p.add_argument("--time-budget", type=float, default=300.0, help="seconds of training (evaluation not counted)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--embd", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ctx", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: on shared cores more threads only spin)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--out-vocab", type=int, default=4096,
                   help="softmax over the N most frequent training ids plus the batch's targets (0: full vocabulary)")
    p.add_argument("--myopic", action="store_true", help="no gradient through the state or token shift into earlier positions")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps (instead of the time budget)")
    p.add_argument("--resume", default=None, help="start from this checkpoint (same configuration)")
    p.add_argument("--sequential", action="store_true", help="train with the sequential WKV loop instead of the parallel form")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)
    man = json.load(open(os.path.join(a.data, "manifest.json")))
    tokens = np.fromfile(os.path.join(a.data, "train.bin"), dtype=np.uint16)
    wanted = a.sources.split(",")
    ranges = [s["trainRange"] for s in man["sources"] if s["info"]["name"] in wanted]
    train = torch.from_numpy(np.concatenate([tokens[r0:r1] for r0, r1 in ranges]).astype(np.int64))
    cfg = RWKVConfig(n_layer=a.layers, n_embd=a.embd, n_head=a.heads, ctx=a.ctx)
    model = RWKV(cfg)
    if a.resume:
        model.load_state_dict(torch.load(a.resume, map_location="cpu")["state_dict"])
    decay, other = [], []
    for n, q in model.named_parameters():
        (decay if q.dim() == 2 and n != "emb.weight" else other).append(q)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.99), eps=1e-8)
    gen = torch.Generator().manual_seed(a.seed)
    counts = torch.bincount(train, minlength=cfg.vocab_size)
    frequent = torch.argsort(counts, descending=True)[:a.out_vocab] if a.out_vocab else None
    t0, step, seen, log = time.time(), 0, 0, []
    while (step < a.steps) if a.steps else (time.time() - t0 < a.time_budget):
        lr = a.lr * min(1.0, (step + 1) / a.warmup) if a.warmup else a.lr
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(train) - a.ctx - 1, (a.batch,), generator=gen)
        x = torch.stack([train[s:s + a.ctx] for s in starts])
        y = torch.stack([train[s + 1:s + a.ctx + 1] for s in starts])
        if frequent is None:
            logits, _ = model(x, parallel=not a.sequential, myopic=a.myopic)
            loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), y.reshape(-1))
        else:
            # Why: on 2 shared CPU cores the 50,257-way output layer is ~90 % of a step; a softmax over a fixed
            # candidate set (frequent ids + this batch's targets) trains the same tied matrix at a tenth of the cost.
            cand = torch.unique(torch.cat([frequent, y.reshape(-1)]))
            remap = torch.full((cfg.vocab_size,), -1, dtype=torch.long)
            remap[cand] = torch.arange(len(cand))
            z = model(x, parallel=not a.sequential, features=True, myopic=a.myopic)
            logits = F.linear(z, model.emb.weight[cand])
            loss = F.cross_entropy(logits.reshape(-1, len(cand)), remap[y.reshape(-1)])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += x.numel()
        if step % 10 == 0:
            log.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.time() - t0, 1)})
            print(log[-1], flush=True)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    kw = dict(vocab_size=cfg.vocab_size, n_layer=cfg.n_layer, n_embd=cfg.n_embd, n_head=cfg.n_head, ctx=cfg.ctx)
    torch.save({"cfg": kw, "state_dict": model.state_dict()}, a.out)
    meta = {"steps": step, "tokens_seen": seen, "seconds": round(time.time() - t0, 1), "train_tokens": len(train), "sources": wanted, "args": vars(a), "log": log}
    with open(os.path.splitext(a.out)[0] + ".train.json", "w") as fh:
        json.dump(meta, fh, indent=1)
    print("saved", a.out, "steps", step, "tokens", seen)


if __name__ == "__main__":
    main()

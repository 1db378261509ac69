"""Trains the bundled default model (and, with --twins, its myopic twin in lockstep on the same batches),
then exports it to ONNX in Hugging Face layout. Maintainer tool; see models/*/README.md for the exact commands.

  python3 tools/py/train_gpt2.py train --data data --out runs/gpt2 --twins --time-budget 360
  python3 tools/py/train_gpt2.py export --weights runs/gpt2/vanilla.npz --out models/precache-gpt2-8l
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_model import GPT2LMHeadModel, count_params  # noqa: E402

DEFAULT_CFG = dict(vocab_size=50257, n_positions=256, n_embd=192, n_layer=8, n_head=6,
                   layer_norm_epsilon=1e-5, embd_pdrop=0.1, attn_pdrop=0.1, resid_pdrop=0.1)


def load_tokens(path):
    return torch.from_numpy(np.fromfile(path, dtype=np.uint16).astype(np.int64))


def val_windows(val, ctx):
    n = (len(val) - 1) // ctx
    x = val[: n * ctx].view(n, ctx)
    y = val[1 : n * ctx + 1].view(n, ctx)
    return x, y


@torch.no_grad()
def evaluate(model, vx, vy, device, bs=64, per_position=False):
    model.eval()
    tot = torch.zeros(vx.size(1), dtype=torch.float64, device=device)
    for i in range(0, vx.size(0), bs):
        x, y = vx[i : i + bs].to(device), vy[i : i + bs].to(device)
        pos = torch.arange(x.size(1), device=device).expand_as(x)
        with autocast(device):
            logits, _ = model(x, position_ids=pos)
        loss = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")
        tot += loss.sum(0).double()
    model.train()
    per_pos = tot / vx.size(0)
    return (per_pos.mean().item(), per_pos.cpu().tolist()) if per_position else per_pos.mean().item()


def autocast(device):
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def lr_at(step, total, peak, warmup, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * p))


def save_npz(model, path):
    sd = {k: v.detach().float().cpu().numpy().astype(np.float16) for k, v in model.state_dict().items()
          if k != "lm_head.weight"}
    np.savez(path, **sd)


def cmd_train(a):
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = dict(DEFAULT_CFG)
    for k in ("n_layer", "n_embd", "n_head", "n_positions"):
        if getattr(a, k) is not None:
            cfg[k] = getattr(a, k)
    ctx = cfg["n_positions"]
    train = load_tokens(os.path.join(a.data, "train.bin"))
    val = load_tokens(os.path.join(a.data, "val.bin"))
    vx, vy = val_windows(val, ctx)
    if a.val_windows:
        vx, vy = vx[: a.val_windows], vy[: a.val_windows]
    names = ["vanilla", "myopic"] if a.twins else (["myopic"] if a.myopic else ["vanilla"])
    models, opts = {}, {}
    for n in names:
        torch.manual_seed(a.seed)  # identical initial weights for both twins
        m = GPT2LMHeadModel(cfg).to(device)
        m.set_mode(myopic=(n == "myopic"), fast=device == "cuda")
        models[n] = m
        decay = [p for pn, p in m.named_parameters() if p.dim() >= 2]
        nodecay = [p for pn, p in m.named_parameters() if p.dim() < 2]
        opts[n] = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": nodecay, "weight_decay": 0.0}],
                                    lr=a.lr, betas=(0.9, 0.95))
    print(json.dumps({"cfg": cfg, "params": count_params(models[names[0]]), "device": device,
                      "train_tokens": len(train), "val_tokens": int(vx.numel())}), flush=True)
    gen = torch.Generator().manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)

    def batch():
        ix = torch.randint(0, len(train) - ctx - 1, (a.batch,), generator=gen)
        x = torch.stack([train[i : i + ctx] for i in ix])
        y = torch.stack([train[i + 1 : i + ctx + 1] for i in ix])
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    pos = torch.arange(ctx, device=device).expand(a.batch, ctx)

    def step_all(x, y, lr):
        for n in names:
            m, o = models[n], opts[n]
            for g in o.param_groups:
                g["lr"] = lr
            with autocast(device):
                logits, _ = m(x, position_ids=pos)
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1))
            o.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            o.step()
            last[n] = loss

    last = {}
    total = a.steps
    t0 = time.time()
    if total is None:
        # Calibrate: time a few steps, then fix the schedule length to fit the time budget.
        for s in range(a.calib_steps):
            x, y = batch()
            step_all(x, y, lr_at(s, 10**9, a.lr, a.warmup, a.lr * 0.1))
        if device == "cuda":
            torch.cuda.synchronize()
        per = (time.time() - t0) / a.calib_steps
        evals = 1 + a.eval_cost_steps
        total = int(a.time_budget / per / (1 + evals / a.eval_every))
        if a.max_tokens:
            total = min(total, a.max_tokens // (a.batch * ctx))
        print(json.dumps({"calibrated_step_s": per, "steps": total}), flush=True)
        start = a.calib_steps
    else:
        start = 0
    best = {n: (float("inf"), None, -1) for n in names}
    history = []
    for s in range(start, total):
        x, y = batch()
        step_all(x, y, lr_at(s, total, a.lr, a.warmup, a.lr * 0.1))
        if (s + 1) % a.eval_every == 0 or s + 1 == total:
            rec = {"step": s + 1, "tokens": (s + 1) * a.batch * ctx, "t": round(time.time() - t0, 1)}
            for n in names:
                vl = evaluate(models[n], vx, vy, device)
                rec[f"{n}_train"] = round(last[n].item(), 4)
                rec[f"{n}_val"] = round(vl, 4)
                if vl < best[n][0]:
                    best[n] = (vl, copy.deepcopy(models[n].state_dict()), s + 1)
            history.append(rec)
            print(json.dumps(rec), flush=True)
            with open(os.path.join(a.out, "history.json"), "w") as f:
                json.dump(history, f)
    summary = {"cfg": cfg, "steps": total, "batch": a.batch, "tokens_seen": total * a.batch * ctx,
               "wall_s": round(time.time() - t0, 1), "device": device,
               "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
               "torch": torch.__version__, "args": vars(a), "models": {}}
    for n in names:
        vl, sd, at = best[n]
        models[n].load_state_dict(sd)
        mean, per_pos = evaluate(models[n], vx, vy, device, per_position=True)
        save_npz(models[n], os.path.join(a.out, f"{n}.npz"))
        summary["models"][n] = {"best_val": vl, "best_step": at, "val_per_position": per_pos,
                                "final_train": history[-1][f"{n}_train"] if history else None}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "models"}), flush=True)
    for n in names:
        print(n, summary["models"][n]["best_val"], summary["models"][n]["best_step"], flush=True)


def load_model_from_npz(path, cfg):
    m = GPT2LMHeadModel(cfg)
    z = np.load(path)
    sd = {k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files}
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    m.load_state_dict(sd)
    m.eval()
    return m


def export_onnx(model, path, opset=14, past=False):
    cfg = model.cfg
    ids = torch.tensor([[50256 % cfg["vocab_size"], 11, 22, 33, 44]])
    mask = torch.ones_like(ids)
    pos = torch.arange(ids.size(1)).unsqueeze(0)
    names_in = ["input_ids", "attention_mask", "position_ids"]
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    names_out = ["logits"]
    nl, nh, dh = cfg["n_layer"], cfg["n_head"], cfg["n_embd"] // cfg["n_head"]

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, position_ids, *pkv):
            pst = None if not pkv else [(pkv[2 * i], pkv[2 * i + 1]) for i in range(nl)]
            logits, presents = self.m(input_ids, attention_mask, position_ids, pst)
            if not pkv:
                return logits
            return (logits, *[t for kv in presents for t in kv])

    args = [ids, mask, pos]
    if past:
        for i in range(nl):
            for kind in ("key", "value"):
                n = f"past_key_values.{i}.{kind}"
                names_in.append(n)
                args.append(torch.zeros(1, nh, 0, dh))
                dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
                o = f"present.{i}.{kind}"
                names_out.append(o)
                dyn[o] = {0: "batch_size", 2: "past_sequence_length + 1"}
    # do_constant_folding=False: with folding, torch materialises lm_head's Transpose of the tied wte as a second
    # [d, vocab] initializer (+38 MB for the 50257-vocab model). Unfolded, lm_head is MatMul(x, Transpose(wte)) and
    # the tied matrix is stored once (onnxruntime folds the Transpose itself at session load).
    # torch >= 2.9 exports through dynamo by default (opset >= 18, a different op sequence): ask for the
    # TorchScript exporter that made the bundled graphs wherever the argument exists.
    import inspect
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    with torch.no_grad():
        torch.onnx.export(Wrap(model), tuple(args), path, input_names=names_in, output_names=names_out,
                          dynamic_axes=dyn, opset_version=opset, do_constant_folding=False, **extra)
    check_tied_once(path, cfg)


def check_tied_once(path, cfg):
    """Raises if the exported graph stores the tied [vocab, d] embedding (in either orientation) more than once."""
    import onnx
    g = onnx.load(path, load_external_data=False).graph
    v, d = cfg["vocab_size"], cfg["n_embd"]
    big = [(i.name, list(i.dims)) for i in g.initializer if sorted(i.dims) == sorted([v, d])]
    if len(big) != 1:
        raise RuntimeError(f"{path}: expected one [{v}, {d}] initializer (tied wte/lm_head), found {big}")


def hf_config(cfg):
    # <|endoftext|> is GPT-2's last id, also in the bundled family's cut vocabulary (make-gpt2-tokenizer --vocab-size).
    eot = cfg["vocab_size"] - 1
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
            "bos_token_id": eot, "eos_token_id": eot, "n_ctx": cfg["n_positions"], **cfg,
            "initializer_range": 0.02, "tie_word_embeddings": True}


def cmd_export(a):
    cfg = dict(DEFAULT_CFG)
    cfg.update(json.load(open(a.cfg)) if a.cfg else {})
    model = load_model_from_npz(a.weights, cfg)
    os.makedirs(os.path.join(a.out, "onnx"), exist_ok=True)
    export_onnx(model, os.path.join(a.out, "onnx", "model.onnx"), opset=a.opset, past=a.past)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2)
    print("exported", a.out)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", default="data")
    t.add_argument("--out", default="runs/gpt2")
    t.add_argument("--twins", action="store_true", help="train vanilla and myopic in lockstep on the same batches")
    t.add_argument("--myopic", action="store_true")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--time-budget", type=float, default=300.0)
    t.add_argument("--max-tokens", type=int, default=None)
    t.add_argument("--calib-steps", type=int, default=30)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--eval-cost-steps", type=float, default=8.0)
    t.add_argument("--val-windows", type=int, default=None)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--wd", type=float, default=0.1)
    t.add_argument("--warmup", type=int, default=200)
    for k in ("n_layer", "n_embd", "n_head", "n_positions"):
        t.add_argument("--" + k.replace("_", "-"), dest=k, type=int, default=None)
    e = sub.add_parser("export")
    e.add_argument("--weights", required=True)
    e.add_argument("--cfg", default=None)
    e.add_argument("--out", required=True)
    e.add_argument("--opset", type=int, default=14)
    e.add_argument("--past", action="store_true",
                   help="add past_key_values.* inputs and present.* outputs (Optimum decoder layout), so the "
                        "workbench can compute a prompt's columns once and reuse them for every knockout")
    a = p.parse_args()
    {"train": cmd_train, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()

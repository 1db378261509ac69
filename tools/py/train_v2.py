"""Trains the bundled model and its myopic twin in one run, on the corpus of tools/prepare-corpus.ts, so that the
model learns to read its context (issue 17): windows cut from documents packed in order (consecutive parts of one
document, documents of one source), context 512, and a small share of sequences holding a repeated span.

  python3 tools/py/train_v2.py --data data/corpus --out /tmp/run --time-budget 400          # on the GPU machine
  python3 tools/py/train_v2.py --data /tmp/c --out /tmp/r --tiny --steps 40                   # CPU smoke run

Both twins start from the same initial weights (one seed), see the same batches in the same order, use separate
AdamW optimisers with the same schedule; only the attention backward pass differs (myopic: stop-gradient on earlier
positions' keys and values, gpt2_model.Attention). Writes to --out: cfg.json, history.json (one record per
evaluation), vanilla.npz / myopic.npz (the best checkpoint by overall validation loss, float16, written at every
improvement so a killed run still leaves its best weights), summary.json (final per-source validation loss,
per-position loss, repeat test, timings).
"""
import argparse
import copy
import hashlib
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

EOT = 50256
NAMES = ("vanilla", "myopic")
# The repeat test of scripts/eval-model.ts: 20 sequences of 50 ids uniform in [1000, 20000), mulberry32 seed 1234.
REPEAT = dict(sequences=20, length=50, lo=1000, hi=20000, seed=1234)


def mulberry32(seed):
    """shared/random.ts's mulberry32, bit for bit, so the repeat test uses the engine's exact sequences."""
    a = seed & 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & 0xFFFFFFFF

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return nxt


def repeat_hi(vocab_size):
    """The repeat test's upper id bound: 20000, or the id below the last one (<|endoftext|>) of a smaller vocabulary,
    as scripts/lib/lm-eval.ts repeatRange."""
    return min(REPEAT["hi"], vocab_size - 1)


def repeat_rows(eot=EOT, vocab_size=EOT + 1):
    rand = mulberry32(REPEAT["seed"])
    lo, hi = REPEAT["lo"], repeat_hi(vocab_size)
    rows = []
    for _ in range(REPEAT["sequences"]):
        seq = [lo + int(math.floor(rand() * (hi - lo))) for _ in range(REPEAT["length"])]
        rows.append([eot] + seq + seq)
    return torch.tensor(rows)


def autocast(device):
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


# ---------------- data ----------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_corpus(data, check=True):
    man = json.load(open(os.path.join(data, "manifest.json")))
    if man.get("format") != "precache-lens.corpus/1":
        raise SystemExit(f"{data}/manifest.json: not a precache-lens.corpus/1 manifest")
    if check:
        for rel, meta in man["files"].items():
            got = sha256_file(os.path.join(data, rel))
            if got != meta["sha256"]:
                raise SystemExit(f"{data}/{rel}: sha256 {got} differs from the manifest's {meta['sha256']}")
    train = np.fromfile(os.path.join(data, "train.bin"), dtype=np.uint16)
    vals = {s["info"]["name"]: np.fromfile(os.path.join(data, s["valFile"]), dtype=np.uint16) for s in man["sources"]}
    ranges = [(s["info"]["name"], s["trainRange"][0], s["trainRange"][1]) for s in man["sources"]]
    return man, train, vals, ranges


def windows(tokens, ctx, limit=None):
    """Non-overlapping next-token windows, as scripts/lib/lm-eval.ts nextTokenWindows: n = (N-1)//ctx."""
    t = torch.from_numpy(tokens.astype(np.int64))
    n = (len(t) - 1) // ctx
    if limit is not None:
        n = min(n, limit)
    return t[: n * ctx].view(n, ctx), t[1: n * ctx + 1].view(n, ctx)


def source_weights(ranges, shares=None):
    """The probability of drawing each source: its share of the training tokens, or `shares` (name -> share) for the
    sources it names, the rest of the mass split over the other sources by their tokens."""
    tokens = [float(b - a) for _, a, b in ranges]
    if not shares:
        return torch.tensor(tokens)
    named = sum(shares.get(n, 0.0) for n, _, _ in ranges)
    if named > 1.0 + 1e-9:
        raise ValueError(f"source shares add up to {named}, over 1")
    rest = sum(t for (n, _, _), t in zip(ranges, tokens) if n not in shares)
    return torch.tensor([shares[n] if n in shares else (1.0 - named) * t / rest for (n, _, _), t in zip(ranges, tokens)])


class Batches:
    """Training windows: a source drawn with probability proportional to its training tokens, then a window of
    ctx+1 tokens at a uniform offset inside that source's contiguous stretch of train.bin (so a window never mixes
    sources, and holds consecutive text of one document or of neighbouring documents). A share of the rows gets a
    repeated span: a span of 16-96 tokens (at most a third of the window) copied to a later place in the same row, half of them natural text from
    the row itself, half random ids (whose first copy is excluded from the loss: it cannot be predicted).
    Optionally (synth_share > 0, the CPU trainer's induction curriculum) the last rows of the batch are replaced by
    synthetic rows: <|endoftext|>, then one random pattern of 8-64 ids repeated to the end of the window, its first
    copy excluded from the loss. The pattern length varies from row to row, so no fixed look-back offset predicts
    the copies: only attending to the token after the previous occurrence of the current one (an induction head)
    does. Every fourth synthetic row has a pattern of 2 ids instead (a previous-token head predicts it). Batches
    without synthetic rows draw exactly the same random numbers as before the option existed."""

    def __init__(self, train, ranges, ctx, batch, device, seed, repeat_share, repeat_random, eot=EOT):
        self.device, self.eot, self.ranges = device, eot, ranges
        self.train = torch.from_numpy(train.astype(np.int64)).to(device)
        self.gen = torch.Generator().manual_seed(seed)
        self.configure(ctx, batch, repeat_share, repeat_random)

    def configure(self, ctx, batch, repeat_share, repeat_random, synth_share=0.0):
        """Window length, rows and repeated-span share from now on (a curriculum changes them between stages)."""
        self.ctx, self.batch = ctx, batch
        self.n_synth = int(round(batch * synth_share))
        ok = [(n, a, b) for n, a, b in self.ranges if b - a > ctx + 2]
        self.names = [n for n, _, _ in ok]
        self.starts = torch.tensor([a for _, a, _ in ok])
        self.spans = torch.tensor([b - a - ctx - 1 for _, a, b in ok])
        self.weights = source_weights(ok, getattr(self, "shares", None))
        self.n_repeat = int(round(batch * repeat_share))
        self.n_random = int(round(self.n_repeat * repeat_random))
        self.arange = torch.arange(ctx + 1)
        self.max_span = min(96, (ctx - 1) // 3)

    def __call__(self):
        g = self.gen
        src = torch.multinomial(self.weights, self.batch, replacement=True, generator=g)
        off = self.starts[src] + (torch.rand(self.batch, generator=g) * self.spans[src]).long()
        seq = self.train[(off[:, None] + self.arange).to(self.device)]
        ignore = torch.zeros_like(seq, dtype=torch.bool)
        n = self.ctx + 1
        for r in range(self.n_repeat):
            length = int(torch.randint(min(16, self.max_span), self.max_span + 1, (1,), generator=g))
            p1 = int(torch.randint(1, n - 2 * length + 1, (1,), generator=g))
            p2 = int(torch.randint(p1 + length, n - length + 1, (1,), generator=g))
            if r < self.n_random:
                seq[r, p1:p1 + length] = torch.randint(0, self.eot, (length,), generator=g).to(self.device)
                ignore[r, p1:p1 + length] = True
            seq[r, p2:p2 + length] = seq[r, p1:p1 + length]
        for k, r in enumerate(range(self.batch - self.n_synth, self.batch)):
            # every fourth synthetic row has period 2: its next token is the previous one, which a previous-token
            # head predicts alone (the first half of an induction circuit, learnt without the second half)
            length = 2 if k % 4 == 0 else int(torch.randint(8, 65, (1,), generator=g))
            pat = torch.randint(0, self.eot, (length,), generator=g).to(self.device)
            seq[r, 0] = self.eot
            seq[r, 1:] = pat.repeat(n // length + 1)[:n - 1]
            ignore[r, :length + 2] = True  # the first copy, and the wrap onto the second (no earlier occurrence)
        x, y = seq[:, :-1], seq[:, 1:].clone()
        y[ignore[:, 1:]] = -100
        return x, y


# ---------------- evaluation ----------------

@torch.no_grad()
def window_loss(model, vx, vy, device, bs=32):
    """Sum of losses per window position and the number of windows (float64)."""
    model.eval()
    tot = torch.zeros(vx.size(1), dtype=torch.float64, device=device)
    for i in range(0, vx.size(0), bs):
        x, y = vx[i:i + bs].to(device), vy[i:i + bs].to(device)
        pos = torch.arange(x.size(1), device=device).expand_as(x)
        with autocast(device):
            logits, _ = model(x, position_ids=pos)
        tot += F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none").sum(0).double()
    model.train()
    return tot, vx.size(0)


@torch.no_grad()
def repeat_test(model, device, eot=EOT, vocab_size=EOT + 1):
    model.eval()
    rows = repeat_rows(eot, vocab_size).to(device)
    x, y = rows[:, :-1], rows[:, 1:]
    pos = torch.arange(x.size(1), device=device).expand_as(x)
    with autocast(device):
        logits, _ = model(x, position_ids=pos)
    loss = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none").mean(0).double()
    model.train()
    L = REPEAT["length"]
    first, second = loss[:L].mean().item(), loss[L:].mean().item()
    return {"firstCopy": first, "secondCopy": second, "secondCopyExcludingItsFirstToken": loss[L + 1:].mean().item(),
            "difference": first - second}


def evaluate(model, val_windows, device, per_position=False):
    per_source, tot_sum, tot_n = {}, None, 0
    for name, (vx, vy) in val_windows.items():
        if vx.size(0) == 0:
            continue
        s, n = window_loss(model, vx, vy, device)
        per_source[name] = {"loss": (s.sum() / (n * vx.size(1))).item(), "windows": n, "predicted": n * vx.size(1)}
        tot_sum = s if tot_sum is None else tot_sum + s
        tot_n += n
    out = {"loss": (tot_sum.sum() / (tot_n * next(iter(val_windows.values()))[0].size(1))).item(), "sources": per_source}
    if per_position:
        out["perPosition"] = (tot_sum / tot_n).cpu().tolist()
    return out


# ---------------- training ----------------

def lr_at(step, total, peak, warmup, floor):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * p))


def save_npz(state, path):
    sd = {k: v.detach().float().cpu().numpy().astype(np.float16) for k, v in state.items() if k != "lm_head.weight"}
    tmp = path + ".tmp.npz"
    np.savez(tmp, **sd)
    os.replace(tmp, path)


def log(rec):
    print(json.dumps(rec), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/corpus")
    p.add_argument("--out", default="runs/v2")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--n-layer", type=int, default=12)
    p.add_argument("--n-embd", type=int, default=192)
    p.add_argument("--n-head", type=int, default=6)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.1, help="embedding and residual dropout; attention dropout is 0")
    p.add_argument("--tiny", action="store_true", help="2 layers, d 64, 4 heads, context 128: a CPU smoke run")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--steps", type=int, default=None, help="fixed number of steps (else sized to --time-budget)")
    p.add_argument("--time-budget", type=float, default=400.0, help="seconds for the training loop, evaluations included")
    p.add_argument("--calib-steps", type=int, default=20)
    p.add_argument("--max-epochs", type=float, default=16.0,
                   help="cap on the calibrated schedule: passes over the training tokens (0: none)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-windows", type=int, default=48, help="validation windows per source in periodic evaluations")
    p.add_argument("--final-windows", type=int, default=None, help="validation windows per source at the end (default all)")
    p.add_argument("--repeat-share", type=float, default=0.1, help="share of rows that get a repeated span")
    p.add_argument("--repeat-random", type=float, default=0.5, help="share of those whose span is random ids")
    p.add_argument("--compile", action="store_true", help="torch.compile each model (falls back to eager on failure)")
    p.add_argument("--no-check", action="store_true", help="skip the sha256 check of the corpus files")
    p.add_argument("--max-return-mib", type=float, default=61.0,
                   help="refuse a config whose two float16 .npz files exceed this (the device call returns 64 MiB)")
    a = p.parse_args()

    t_start = time.time()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if a.tiny:
        a.n_layer, a.n_embd, a.n_head, a.ctx = 2, 64, 4, 128
    cfg = dict(vocab_size=50257, n_positions=a.ctx, n_embd=a.n_embd, n_layer=a.n_layer, n_head=a.n_head,
               layer_norm_epsilon=1e-5, embd_pdrop=a.dropout, attn_pdrop=0.0, resid_pdrop=a.dropout)
    # Each model comes back as float16 (2 bytes a parameter, the tied unembedding stored once): both must fit in
    # what one device call returns, next to the logs.
    d, L, V = a.n_embd, a.n_layer, cfg["vocab_size"]
    n_params = V * d + a.ctx * d + L * (12 * d * d + 13 * d) + 2 * d
    if 2 * 2 * n_params / 2 ** 20 > a.max_return_mib:
        raise SystemExit(f"{n_params} parameters: two float16 copies are {4 * n_params / 2 ** 20:.1f} MiB, over "
                         f"--max-return-mib {a.max_return_mib}")
    man, train, vals, ranges = load_corpus(a.data, check=not a.no_check)
    os.makedirs(a.out, exist_ok=True)
    json.dump(cfg, open(os.path.join(a.out, "cfg.json"), "w"), indent=1)
    ctx = a.ctx
    val_eval = {n: windows(v, ctx, a.eval_windows) for n, v in vals.items()}
    val_final = {n: windows(v, ctx, a.final_windows) for n, v in vals.items()}

    models, opts, run = {}, {}, {}
    for n in NAMES:
        torch.manual_seed(a.seed)  # identical initial weights for both twins, drawn on the CPU
        m = GPT2LMHeadModel(cfg)
        m.set_mode(myopic=(n == "myopic"), fast=True)
        m.to(device).train()
        models[n] = m
        decay = [q for q in m.parameters() if q.dim() >= 2]
        nodecay = [q for q in m.parameters() if q.dim() < 2]
        kw = {"fused": True} if device == "cuda" else {}
        opts[n] = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": nodecay, "weight_decay": 0.0}],
                                    lr=a.lr, betas=(0.9, 0.95), **kw)
        run[n] = m
        if a.compile and hasattr(torch, "compile"):
            run[n] = torch.compile(m)
    same_init = all(torch.equal(x, y) for x, y in zip(models["vanilla"].state_dict().values(), models["myopic"].state_dict().values()))
    assert same_init, "twins must start from identical weights"
    batches = Batches(train, ranges, ctx, a.batch, device, a.seed, a.repeat_share, a.repeat_random)
    assert count_params(models["vanilla"]) == n_params, (count_params(models["vanilla"]), n_params)
    log({"event": "start", "cfg": cfg, "params": count_params(models["vanilla"]), "device": device,
         "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None, "torch": torch.__version__,
         "train_tokens": int(len(train)), "sources": batches.names, "rows_with_repeats": batches.n_repeat,
         "of_which_random": batches.n_random, "load_s": round(time.time() - t_start, 1)})

    last = {}

    def step_all(x, y, lr):
        for n in NAMES:
            o = opts[n]
            for g in o.param_groups:
                g["lr"] = lr
            pos = torch.arange(ctx, device=device).expand_as(x)
            with autocast(device):
                logits, _ = run[n](x, position_ids=pos)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100)
            o.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(models[n].parameters(), 1.0)
            o.step()
            last[n] = loss.detach()

    def safe_step(x, y, lr):
        try:
            step_all(x, y, lr)
        except Exception as e:  # torch.compile problems show at the first call: fall back to eager
            if run["vanilla"] is models["vanilla"]:
                raise
            log({"event": "compile_failed", "error": str(e)[:500]})
            for n in NAMES:
                run[n] = models[n]
            step_all(x, y, lr)

    best = {n: {"loss": float("inf"), "state": None, "step": 0} for n in NAMES}
    history = []

    def do_eval(step, t_loop):
        rec = {"step": step, "tokens": step * a.batch * ctx, "t": round(time.time() - t_loop, 1)}
        for n in NAMES:
            ev = evaluate(models[n], val_eval, device)
            rep = repeat_test(models[n], device)
            rec[f"{n}_train"] = round(last[n].item(), 4) if n in last else None
            rec[f"{n}_val"] = round(ev["loss"], 4)
            rec[f"{n}_val_sources"] = {k: round(v["loss"], 4) for k, v in ev["sources"].items()}
            rec[f"{n}_repeat"] = [round(rep["firstCopy"], 3), round(rep["secondCopy"], 3)]
            if ev["loss"] < best[n]["loss"]:
                best[n] = {"loss": ev["loss"], "state": copy.deepcopy(models[n].state_dict()), "step": step}
                save_npz(best[n]["state"], os.path.join(a.out, f"{n}.npz"))
        history.append(rec)
        log(rec)
        with open(os.path.join(a.out, "history.json"), "w") as f:
            json.dump(history, f)

    t_loop = time.time()
    deadline = t_loop + a.time_budget
    total = a.steps
    step = 0
    if total is None:
        # Calibrate: time steps after the first few (CUDA start-up, compilation) and one evaluation, then fix the
        # schedule length so that the loop, evaluations included, ends inside the time budget.
        warm = min(3, a.calib_steps)
        for s in range(a.calib_steps):
            if s == warm:
                if device == "cuda":
                    torch.cuda.synchronize()
                t_c = time.time()
            x, y = batches()
            safe_step(x, y, lr_at(s, 10 ** 9, a.lr, a.warmup, a.lr * a.min_lr_frac))
        if device == "cuda":
            torch.cuda.synchronize()
        per = (time.time() - t_c) / max(1, a.calib_steps - warm)
        step = a.calib_steps
        t_e = time.time()
        do_eval(step, t_loop)
        eval_s = time.time() - t_e
        remaining = deadline - time.time()
        total = max(step, step + int(remaining / (per + eval_s / a.eval_every)))
        if a.max_epochs:
            total = max(step, min(total, int(a.max_epochs * len(train) / (a.batch * ctx))))
        log({"event": "calibrated", "step_s": round(per, 4), "eval_s": round(eval_s, 2), "steps": total,
             "tokens_per_model": total * a.batch * ctx})
    stopped_early = False
    while step < total:
        if time.time() > deadline:
            stopped_early = True
            break
        x, y = batches()
        safe_step(x, y, lr_at(step, total, a.lr, a.warmup, a.lr * a.min_lr_frac))
        step += 1
        if step % a.eval_every == 0 or step == total:
            do_eval(step, t_loop)
    if not history or history[-1]["step"] != step:
        do_eval(step, t_loop)
    loop_s = time.time() - t_loop

    summary = {"cfg": cfg, "params": count_params(models["vanilla"]), "steps": step, "planned_steps": total,
               "stopped_at_time_budget": stopped_early, "batch": a.batch, "ctx": ctx,
               "tokens_seen_per_model": step * a.batch * ctx, "train_tokens": int(len(train)),
               "epochs": step * a.batch * ctx / len(train), "loop_s": round(loop_s, 1), "device": device,
               "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None, "torch": torch.__version__,
               "args": vars(a), "corpus": {s["info"]["name"]: s["tokens"] for s in man["sources"]},
               "repeat_rows_per_batch": batches.n_repeat, "random_repeat_rows_per_batch": batches.n_random, "models": {}}
    for n in NAMES:
        models[n].load_state_dict(best[n]["state"])
        ev = evaluate(models[n], val_final, device, per_position=True)
        summary["models"][n] = {"best_step": best[n]["step"], "best_val_periodic": best[n]["loss"], "val": ev,
                                "repeat": repeat_test(models[n], device),
                                "final_train": history[-1].get(f"{n}_train")}
    summary["myopia_gap"] = summary["models"]["myopic"]["val"]["loss"] - summary["models"]["vanilla"]["val"]["loss"]
    summary["total_s"] = round(time.time() - t_start, 1)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    for n in NAMES:
        mm = summary["models"][n]
        log({"event": "final", "model": n, "best_step": mm["best_step"], "val": round(mm["val"]["loss"], 4),
             "val_sources": {k: round(v["loss"], 4) for k, v in mm["val"]["sources"].items()},
             "repeat_first": round(mm["repeat"]["firstCopy"], 3), "repeat_second": round(mm["repeat"]["secondCopy"], 3)})
    log({"event": "done", "myopia_gap": round(summary["myopia_gap"], 4), "total_s": summary["total_s"]})


if __name__ == "__main__":
    main()

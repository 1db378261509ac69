"""Trains the bundled GPT-2-layout model and its myopic twin on this machine's CPUs (issue 21), in stages that can be
stopped and resumed any number of times.

  nice -n 10 python3 tools/py/train_cpu.py --data data/corpus8k --out ~/train/gpt2-8k          # start or resume
  python3 tools/py/train_cpu.py --data data/corpus8k --out /tmp/t --bench                       # time settings
  python3 tools/py/train_cpu.py --data data/corpus8k --out /tmp/t --tiny --total-steps 12 --ckpt-steps 5  # smoke
  python3 tools/py/train_cpu.py --device cuda --n-layer 8 --n-embd 512 --rows-scale 8 --data data/corpus8k \
      --out ~/train/gpt2-8k-gpu                                                                   # on a lent GPU
  python3 tools/py/train_cpu.py --data data/corpus8k --out ~/train/gpt2-8l8k --init-from OLD/precache-gpt2-8l \
      --n-layer 8 --n-embd 192 --n-head 6 --ctx 256 --parallel-twins ...                          # continue a pair

--init-from continues an earlier bundled GPT-2 or RWKV pair (its vocabulary cut to the corpus tokenizer's tokens by
token string; each twin from its own predecessor); --parallel-twins runs the two twins' steps at once on two threads
(the bundled precache-gpt2-8l-8k was made so: tools/README-training.md).

Same recipe as tools/py/train_v2.py (the GPU trainer: windows of consecutive text of one source, a share of rows
with a repeated span, twins in lockstep from identical weights with separate AdamW), resized for two cores, with a
curriculum for induction. What the bundled run showed (issue 21's note): 1,855 steps of short windows, small batches
and half the rows with a repeated span (a quarter of them random ids) gave no induction at all (repeat drop 0.8, no
previous-token head); a random span inside natural text is too rare a signal at 2,048 tokens a step. Rows made of one
random pattern repeated to the end of the window (Batches' synthetic rows, pattern length 8-64 so that no fixed
offset predicts them) are a dense signal; a stage with half the rows synthetic comes next, and later stages keep a
share of them while the windows lengthen to the full context.

Checkpoints (--out/ckpt.pt, written atomically every --ckpt-minutes and at every stage change) hold both models,
both optimisers, the batch generator's and the global RNG's state, the step and the history, so a resumed run
continues exactly as an uninterrupted one would (tools/py/test_train_cpu.py checks this). Keep --out outside the
repository. Also written: history.json, vanilla.npz / myopic.npz (the best weights by periodic validation loss, as
train_v2.py writes them, for tools/py/export + finish), log.jsonl.
"""
import argparse
import json
import math
import os
import signal
import sys
import time

# Measured here (--bench; issue 21's note): OpenBLAS cannot read this virtual CPU's model and falls back to its
# "Prescott" kernels (5 GFLOPS for an fp32 matmul); told the core type it runs its AVX-512 kernels (about 5x faster).
# It must be set before the library loads. bfloat16 autocast goes through oneDNN and the CPU's AMX units instead.
os.environ.setdefault("OPENBLAS_CORETYPE", "Cooperlake")

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_model import GPT2LMHeadModel, count_params  # noqa: E402
from rwkv_model import RWKV, RWKVConfig  # noqa: E402
from train_v2 import NAMES, Batches, evaluate, load_corpus, repeat_test, save_npz, windows  # noqa: E402

# (first step of the stage, context, rows per batch, share of rows with a repeated span, share of synthetic rows)
CURRICULUM = [
    (0, 128, 16, 0.5, 0.0),
    (1855, 128, 16, 0.25, 0.5),
    (3000, 128, 16, 0.25, 0.75),
    (4000, 256, 8, 0.25, 0.25),
    (4800, 512, 4, 0.25, 0.25),
]
TOTAL_STEPS = 6000
DECAY_FROM = 5200


def parse_curriculum(text):
    """'0:128x16:0.5:0,1855:128x16:0.25:0.5,...' -> [(start, ctx, rows, repeat share, synthetic share), ...]"""
    out = []
    for part in text.split(","):
        f = part.split(":")
        if len(f) != 4 or "x" not in f[1]:
            raise SystemExit(f"--curriculum: '{part}' is not start:CTXxROWS:repeat:synthetic")
        ctx, rows = (int(v) for v in f[1].split("x"))
        out.append((int(f[0]), ctx, rows, float(f[2]), float(f[3])))
    if out[0][0] != 0 or any(b[0] <= a[0] for a, b in zip(out, out[1:])):
        raise SystemExit("--curriculum: stages must start at step 0 and in increasing order")
    return out


def stage_at(step, curriculum):
    cur = curriculum[0]
    for st in curriculum:
        if step >= st[0]:
            cur = st
    return cur


def lr_at(step, total, peak, warmup, floor, decay_from=0):
    """Linear warm-up, then cosine to `floor` at `total`; with decay_from, constant until that step and the cosine only
    from there (warm-up, stable, decay: a run can be lengthened by moving both numbers, without a second warm-up)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if decay_from:
        if step < decay_from:
            return peak
        p = min(1.0, (step - decay_from) / max(1, total - decay_from))
    else:
        p = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * p))


def log(out, rec):
    rec = {**rec, "time": round(time.time(), 1)}  # wall clock, so that a card can state the wall time of the run
    line = json.dumps(rec)
    print(line, flush=True)
    with open(os.path.join(out, "log.jsonl"), "a") as f:
        f.write(line + "\n")


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class RwkvLM(torch.nn.Module):
    """tools/py/rwkv_model.py's RWKV-5 behind the GPT-2 model's call (ids, position_ids) -> (logits, _), so that
    training, evaluation and the repeat test are shared. Trains with the exact parallel form of the WKV sums; the
    myopic twin has no gradient through the state or the token shift into earlier positions."""

    def __init__(self, cfg, myopic):
        super().__init__()
        self.rwkv = RWKV(RWKVConfig(**cfg))
        self.myopic = myopic

    def forward(self, ids, position_ids=None):
        return self.rwkv(ids, parallel=True, myopic=self.myopic)


def build(a, vocab, init=None):
    if a.arch == "rwkv":
        cfg = dict(vocab_size=vocab, n_layer=a.n_layer, n_embd=a.n_embd, n_head=a.n_head, ctx=a.ctx)
    else:
        cfg = dict(vocab_size=vocab, n_positions=a.ctx, n_embd=a.n_embd, n_layer=a.n_layer, n_head=a.n_head,
                   layer_norm_epsilon=1e-5, embd_pdrop=a.dropout, attn_pdrop=0.0, resid_pdrop=a.dropout)
    models, opts = {}, {}
    for n in NAMES:
        torch.manual_seed(a.seed)  # identical initial weights for both twins
        if a.arch == "rwkv":
            m = RwkvLM(cfg, myopic=(n == "myopic"))
        else:
            m = GPT2LMHeadModel(cfg)
            m.set_mode(myopic=(n == "myopic"), fast=True)
        if init:  # (old ids, {twin: graph}): each twin continues its own earlier model
            init_from_onnx(m, init[1][n], init[0])
        m.to(getattr(a, "device", "cpu"))
        m.train()
        models[n] = m
        decay = [q for q in m.parameters() if q.dim() >= 2]
        nodecay = [q for q in m.parameters() if q.dim() < 2]
        opts[n] = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": nodecay, "weight_decay": 0.0}],
                                    lr=a.lr, betas=(0.9, 0.95))
    assert init or all(torch.equal(x, y) for x, y in zip(models["vanilla"].state_dict().values(),
                                                          models["myopic"].state_dict().values())), "twins must start equal"
    return cfg, models, opts


def token_map(new_tokenizer, old_tokenizer):
    """For each id of the new tokenizer, the id of the same token string in the old one (SystemExit naming the first
    token the old vocabulary lacks). Both are tokenizer.json files; added tokens such as <|endoftext|> count too."""
    def vocab(path):
        with open(path) as f:
            t = json.load(f)
        v = dict(t["model"]["vocab"])
        v.update({a["content"]: a["id"] for a in t.get("added_tokens", [])})
        return v
    new, old = vocab(new_tokenizer), vocab(old_tokenizer)
    ids = np.empty(len(new), dtype=np.int64)
    for tok, i in new.items():
        if tok not in old:
            raise SystemExit(f"--init-from: token {tok!r} (id {i}) of {new_tokenizer} is not in {old_tokenizer}")
        ids[i] = old[tok]
    return ids


def init_from_onnx(model, graph, old_ids):
    """Loads a GPT-2 model exported by train_gpt2.py (initializers named 'm.' + the state-dict names), or an RWKV
    model exported by rwkv_export.py (RwkvLM), into `model`, keeping the embedding rows of `old_ids` (the new
    vocabulary's tokens in the old one's order) and the first n_positions rows of the position table. Every tensor
    must be there with a compatible shape."""
    if isinstance(model, RwkvLM):
        init, model = rwkv_state_from_onnx(graph, old_ids, model.rwkv.cfg.n_layer), model.rwkv
    else:
        import onnx
        from onnx import numpy_helper
        init = {i.name[2:] if i.name.startswith("m.") else i.name: numpy_helper.to_array(i) for i in onnx.load(graph).graph.initializer}
    sd = model.state_dict()
    out = {}
    for k, v in sd.items():
        src = init.get("transformer.wte.weight" if k == "lm_head.weight" else k)
        if src is None:
            raise SystemExit(f"--init-from {graph}: no initializer for {k}")
        if k in ("transformer.wte.weight", "lm_head.weight"):
            src = src[old_ids]
        elif k == "transformer.wpe.weight":
            src = src[: v.shape[0]]
        if tuple(src.shape) != tuple(v.shape):
            raise SystemExit(f"--init-from {graph}: {k} is {list(src.shape)} there, {list(v.shape)} here (set --n-layer, "
                             f"--n-embd, --n-head, --ctx to the model's)")
        out[k] = torch.from_numpy(np.array(src, dtype=np.float32))  # a writable copy
    model.load_state_dict(out)


def rwkv_state_from_onnx(graph, old_ids, n_layer):
    """The state dict of tools/py/rwkv_model.py's RWKV from a graph written by rwkv_export.py (the inverse of its
    transformations: projection matrices transposed back, decay = log(-log w), per-head tensors flattened), keeping
    the embedding rows of `old_ids`. SystemExit naming the first missing initializer."""
    import onnx
    from onnx import numpy_helper
    init = {i.name: numpy_helper.to_array(i) for i in onnx.load(graph).graph.initializer}

    def get(name):
        if name not in init:
            raise SystemExit(f"--init-from {graph}: no initializer {name} (not an rwkv_export.py graph?)")
        return np.asarray(init[name], dtype=np.float64)

    sd = {"emb.weight": get("emb.weight")[old_ids], "ln0.weight": get("ln0.w"), "ln0.bias": get("ln0.b"),
          "ln_out.weight": get("ln_out.w"), "ln_out.bias": get("ln_out.b")}
    for l in range(n_layer):
        b, o = f"blocks.{l}.", f"l{l}."
        for ln in ("ln1", "ln2"):
            sd[b + ln + ".weight"], sd[b + ln + ".bias"] = get(o + ln + ".w"), get(o + ln + ".b")
        for m in ("r", "k", "v", "g"):
            sd[b + f"att.mix_{m}"] = get(o + f"att.mix_{m}")
        for mod, w in (("receptance", "Wr"), ("key", "Wk"), ("value", "Wv"), ("gate", "Wg"), ("output", "Wo")):
            sd[b + f"att.{mod}.weight"] = get(o + "att." + w).T
        w = get(o + "w")[..., 0]
        sd[b + "att.decay"] = np.log(-np.log(w))
        sd[b + "att.bonus"] = get(o + "u")[..., 0]
        sd[b + "att.ln_x.weight"], sd[b + "att.ln_x.bias"] = get(o + "gn.w").reshape(-1), get(o + "gn.b").reshape(-1)
        for m in ("k", "r"):
            sd[b + f"ffn.mix_{m}"] = get(o + f"ffn.mix_{m}")
        for mod, w in (("key", "Wk"), ("receptance", "Wr"), ("value", "Wv")):
            sd[b + f"ffn.{mod}.weight"] = get(o + "ffn." + w).T
    return sd


def train_step(models, opts, x, y, lr, bf16, device_type="cpu", pool=None):
    """One step of each twin on the same batch. With `pool` (a 2-thread executor) the twins run at once, each on its
    own thread: their graphs share nothing, torch releases the GIL inside its kernels, and each twin's arithmetic is
    the same as run alone (one intra-op thread each), so the result does not depend on it."""
    if pool is not None:
        def one(n):
            torch.set_num_threads(1)  # OpenMP's thread count is a per-thread setting: the pool's threads start at the default
            return train_step({n: models[n]}, {n: opts[n]}, x, y, lr, bf16, device_type)
        parts = list(pool.map(one, NAMES))
        return {n: p[n] for n, p in zip(NAMES, parts)}
    losses = {}
    for n in models:
        o = opts[n]
        for g in o.param_groups:
            g["lr"] = lr
        pos = torch.arange(x.size(1), device=x.device).expand_as(x)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            logits, _ = models[n](x, position_ids=pos)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-100)
        o.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(models[n].parameters(), 1.0)
        o.step()
        losses[n] = loss.item()
    return losses


def bench(a, train, ranges, eot, vocab):
    """Seconds per lockstep step (both twins) and tokens/s per model for threads x dtype x batch shapes."""
    results = []
    for threads in a.bench_threads:
        torch.set_num_threads(threads)
        for bf16 in a.bench_dtypes:
            for ctx, batch in a.bench_shapes:
                _, models, opts = build(a, vocab)
                b = Batches(train, ranges, ctx, batch, "cpu", 1, 0.1, 0.5, eot=eot)
                for i in range(2 + a.bench_steps):
                    if i == 2:
                        t0 = time.time()
                    x, y = b()
                    train_step(models, opts, x, y, 1e-4, bf16)
                per = (time.time() - t0) / a.bench_steps
                rec = {"threads": threads, "bf16": bf16, "ctx": ctx, "batch": batch, "step_s": round(per, 3),
                       "tokens_per_s_per_model": round(ctx * batch / per, 1)}
                results.append(rec)
                print(json.dumps(rec), flush=True)
    with open(os.path.join(a.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/corpus8k")
    p.add_argument("--out", required=True, help="checkpoint folder, outside the repository")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--arch", choices=("gpt2", "rwkv"), default="gpt2")
    p.add_argument("--n-layer", type=int, default=6)
    p.add_argument("--n-embd", type=int, default=256)
    p.add_argument("--n-head", type=int, default=8)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--total-steps", type=int, default=TOTAL_STEPS, help="length of the learning-rate schedule")
    p.add_argument("--decay-from", type=int, default=DECAY_FROM,
                   help="constant learning rate until this step, cosine decay from there to --total-steps (0: cosine "
                        "from the end of the warm-up)")
    p.add_argument("--curriculum", default="", help="stages as start:CTXxROWS:repeat:synthetic,... (default: CURRICULUM)")
    p.add_argument("--source-shares", default="sotu=0.3,brown=0.25,kjv=0.15,gcide=0.18,devil=0.02,fortunes=0.1",
                   help="share of the windows drawn from each source ('' = by training tokens, as train_v2.py)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cuda: the same trainer on a GPU when one is lent, with a bigger configuration (tools/README-training.md)")
    p.add_argument("--rows-scale", type=int, default=1, help="multiply every stage's rows per batch (bigger batches on a GPU)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (measured: on a busy 2-core machine a second thread spins, 5x slower)")
    p.add_argument("--parallel-twins", action="store_true",
                   help="run the two twins' steps at once on two threads, one intra-op thread each (measured: 2.2 s a "
                        "step against 3.2 s one after the other, equal losses; use with --threads 1)")
    p.add_argument("--fp32", dest="bf16", action="store_false",
                   help="no bfloat16 autocast (default: bf16 matmuls through oneDNN/AMX, fp32 weights and optimiser; "
                        "rwkv's WKV sums and decays stay in fp32 either way)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--eval-windows", type=int, default=8, help="held-out windows per source per evaluation")
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--ckpt-steps", type=int, default=0, help="also checkpoint every N steps (tests)")
    p.add_argument("--stop-after", type=int, default=0, help="stop (after a checkpoint) at this step (tests)")
    p.add_argument("--init-from", default="",
                   help="GPT-2 only: start from a bundled model folder's ONNX graph (the myopic twin from <folder>-myopic) "
                        "instead of random weights, its vocabulary cut to the corpus tokenizer's tokens (matched by "
                        "token string); read at the start of a run, never on resume")
    p.add_argument("--init-tokenizer", default="data/tok8k/tokenizer.json",
                   help="the corpus's tokenizer.json, for --init-from's token matching")
    p.add_argument("--tiny", action="store_true", help="2 layers, d 64, context 128: a smoke run")
    p.add_argument("--bench", action="store_true", help="time threads x dtype x batch shapes and exit")
    p.add_argument("--bench-steps", type=int, default=4)
    p.add_argument("--bench-threads", default="1,2")
    p.add_argument("--bench-dtypes", default="fp32,bf16")
    p.add_argument("--bench-shapes", default="128x16,512x8", help="context x rows, comma-separated")
    a = p.parse_args()
    a.bench_threads = [int(t) for t in a.bench_threads.split(",")]
    a.bench_dtypes = [d == "bf16" for d in a.bench_dtypes.split(",")]
    a.bench_shapes = [tuple(int(v) for v in s.split("x")) for s in a.bench_shapes.split(",")]
    curriculum = parse_curriculum(a.curriculum) if a.curriculum else CURRICULUM
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    if a.rows_scale < 1:
        raise SystemExit("--rows-scale: at least 1")
    if a.tiny:
        a.n_layer, a.n_embd, a.n_head, a.ctx = 2, 64, 4, 128
        curriculum = parse_curriculum(a.curriculum) if a.curriculum else [(0, 32, 4, 0.5, 0.0), (4, 128, 4, 0.25, 0.25)]
    curriculum = [(st[0], st[1], st[2] * a.rows_scale, *st[3:]) for st in curriculum]
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(a.threads)

    man, train, vals, ranges = load_corpus(a.data)
    eot = int(man["eot"])
    vocab = eot + 1
    if int(train.max()) >= vocab:
        raise SystemExit(f"{a.data}: token id {int(train.max())} is not below the vocabulary size {vocab}")
    if a.bench:
        return bench(a, train, ranges, eot, vocab)

    corpus_id = man["files"]["train.bin"]["sha256"]
    ckpt = os.path.join(a.out, "ckpt.pt")
    init = None
    if a.init_from and not os.path.exists(ckpt):
        src = os.path.abspath(a.init_from.rstrip("/"))
        graphs = {n: os.path.join(src + ("-myopic" if n == "myopic" else ""), "onnx", "model.onnx") for n in NAMES}
        for g in [*graphs.values(), os.path.join(src, "tokenizer.json"), a.init_tokenizer]:
            if not os.path.exists(g):
                raise SystemExit(f"--init-from: {g} not found")
        old_ids = token_map(a.init_tokenizer, os.path.join(src, "tokenizer.json"))
        if len(old_ids) != vocab:
            raise SystemExit(f"--init-tokenizer {a.init_tokenizer}: {len(old_ids)} tokens, the corpus has {vocab}")
        init = (old_ids, graphs)
    cfg, models, opts = build(a, vocab, init)
    first = stage_at(0, curriculum)
    batches = Batches(train, ranges, first[1], first[2], a.device, a.seed, first[3], 0.5, eot=eot)
    if a.source_shares:
        batches.shares = {k: float(v) for k, v in (kv.split("=") for kv in a.source_shares.split(","))}
        unknown = set(batches.shares) - {n for n, _, _ in ranges}
        if unknown:
            raise SystemExit(f"--source-shares: unknown sources {sorted(unknown)}")
    batches.configure(*first[1:4], 0.5, first[4])
    state = {"step": 0, "history": [], "best": {n: float("inf") for n in NAMES}, "tokens": 0, "train_s": 0.0}
    if os.path.exists(ckpt):
        c = torch.load(ckpt, map_location="cpu")  # load_state_dict moves tensors (and optimiser states) to the device
        if c["cfg"] != cfg:
            raise SystemExit(f"{ckpt}: trained with {c['cfg']}, asked for {cfg}; use another --out")
        if c.get("corpus") != corpus_id:
            raise SystemExit(f"{ckpt}: trained on a corpus with train.bin sha256 {c.get('corpus')}, {a.data} has {corpus_id}")
        for n in NAMES:
            models[n].load_state_dict(c["models"][n])
            opts[n].load_state_dict(c["opts"][n])
        batches.gen.set_state(c["batch_gen"])
        torch.set_rng_state(c["rng"])
        state = c["state"]
        log(a.out, {"event": "resume", "step": state["step"], "tokens": state["tokens"], "curriculum": curriculum,
                    "args": vars(a)})
    else:
        json.dump(cfg, open(os.path.join(a.out, "cfg.json"), "w"), indent=1)
        log(a.out, {"event": "start", "arch": a.arch, "cfg": cfg, "params": count_params(models["vanilla"]), "vocab": vocab,
                    "train_tokens": int(len(train)), "threads": a.threads, "bf16": a.bf16, "torch": torch.__version__,
                    "curriculum": curriculum, "args": vars(a),
                    "init": init[1] if init else None})
    w = batches.weights / batches.weights.sum()
    log(a.out, {"event": "sources", "step": state["step"], "shares": {n: round(float(x), 4) for n, x in zip(batches.names, w)}})
    val_eval = {n: windows(v, a.ctx, a.eval_windows) for n, v in vals.items()}

    def save():
        atomic_save({"cfg": cfg, "corpus": corpus_id, "models": {n: models[n].state_dict() for n in NAMES},
                     "opts": {n: opts[n].state_dict() for n in NAMES}, "batch_gen": batches.gen.get_state(),
                     "rng": torch.get_rng_state(), "state": state}, ckpt)

    def do_eval():
        rec = {"step": state["step"], "tokens": state["tokens"], "train_s": round(state["train_s"], 1),
               "stage_ctx": batches.ctx}
        for n in NAMES:
            ev = evaluate(models[n], val_eval, a.device)
            rep = repeat_test(models[n], a.device, eot, vocab)
            rec[f"{n}_train"] = state.get("last", {}).get(n)
            rec[f"{n}_val"] = round(ev["loss"], 4)
            rec[f"{n}_val_sources"] = {k: round(v["loss"], 4) for k, v in ev["sources"].items()}
            rec[f"{n}_repeat"] = [round(rep["firstCopy"], 3), round(rep["secondCopy"], 3)]
            if ev["loss"] < state["best"][n]:
                state["best"][n] = ev["loss"]
                rec[f"{n}_best"] = True
                if a.arch == "rwkv":  # rwkv_export.py reads {cfg, state_dict}
                    atomic_save({"cfg": cfg, "state_dict": models[n].rwkv.state_dict()}, os.path.join(a.out, f"{n}.pt"))
                else:
                    save_npz(models[n].state_dict(), os.path.join(a.out, f"{n}.npz"))
        state["history"].append(rec)
        log(a.out, rec)
        with open(os.path.join(a.out, "history.json"), "w") as f:
            json.dump(state["history"], f)

    # SIGTERM / SIGINT: finish the step, checkpoint, stop (a later run with the same command resumes from there).
    stop = {"signal": None}

    def on_signal(sig, _frame):
        stop["signal"] = signal.Signals(sig).name

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    pool = None
    if a.parallel_twins:
        from concurrent.futures import ThreadPoolExecutor
        pool = ThreadPoolExecutor(len(NAMES))
    last_ckpt = time.time()
    stage = first  # what batches is configured for
    while state["step"] < a.total_steps:
        st = stage_at(state["step"], curriculum)
        if st != stage:
            batches.configure(*st[1:4], 0.5, st[4])
            log(a.out, {"event": "stage", "step": state["step"], "ctx": st[1], "batch": st[2], "repeat_share": st[3],
                        "synthetic_share": st[4]})
            stage = st
        t0 = time.time()
        x, y = batches()
        lr = lr_at(state["step"], a.total_steps, a.lr, a.warmup, a.lr * a.min_lr_frac, a.decay_from)
        state["last"] = {n: round(v, 4) for n, v in train_step(models, opts, x, y, lr, a.bf16, a.device, pool).items()}
        state["train_s"] += time.time() - t0
        state["step"] += 1
        state["tokens"] += x.numel()
        if state["step"] % a.log_every == 0:
            log(a.out, {"step": state["step"], "lr": round(lr, 6), "train": state["last"],
                        "train_s": round(state["train_s"], 1), "tokens": state["tokens"]})
        if state["step"] % a.eval_every == 0 or state["step"] == a.total_steps:
            do_eval()
        due = time.time() - last_ckpt > a.ckpt_minutes * 60 or (a.ckpt_steps and state["step"] % a.ckpt_steps == 0)
        if due or state["step"] == a.total_steps or state["step"] == a.stop_after:
            save()
            last_ckpt = time.time()
        if state["step"] == a.stop_after:
            log(a.out, {"event": "stopped", "step": state["step"]})
            return
        if stop["signal"]:
            save()
            log(a.out, {"event": "stopped", "step": state["step"], "signal": stop["signal"]})
            return
    log(a.out, {"event": "done", "step": state["step"], "tokens": state["tokens"], "train_s": round(state["train_s"], 1)})


if __name__ == "__main__":
    main()

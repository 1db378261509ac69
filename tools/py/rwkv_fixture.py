"""Writes tests/fixtures/models/rwkv-tiny/: a random-weight RWKV-5 (byte vocabulary of 257, 2 layers, d 32, 2 heads of
16) exported by rwkv_export.py, and golden.json from the PyTorch reference (sequential recurrence).

  /usr/bin/python3 tools/py/rwkv_fixture.py && node tools/make-fixture-tokenizer.mjs tests/fixtures/models/rwkv-tiny"""
import json
import os
import sys
import torch

sys.path.insert(0, os.path.dirname(__file__))
from rwkv_export import export_dir  # noqa: E402
from rwkv_model import RWKV, RWKVConfig  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "../../tests/fixtures/models/rwkv-tiny")
TEXT = "Hello, world!\nA"


def r7(x):
    return [round(float(v), 7) for v in x.reshape(-1).tolist()]


def main():
    torch.manual_seed(20261129)
    cfg = RWKVConfig(vocab_size=257, n_layer=2, n_embd=32, n_head=2, ffn_mult=4, ctx=64)
    m = RWKV(cfg)
    with torch.no_grad():
        # Random weights far from the training initialisation (zero output projections would make blocks no-ops).
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.3 if name == "emb.weight" else 0.25)
            elif "ln" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "ln" in name and name.endswith("bias"):
                p.normal_(0, 0.1)
            elif "decay" in name:
                p.copy_(torch.empty_like(p).uniform_(-3, 1))
            else:
                p.add_(0.1 * torch.randn_like(p))
    m.eval()
    export_dir(m, OUT)
    ids = torch.tensor([[256] + list(TEXT.encode())])
    with torch.no_grad():
        logits, state, hooks = m(ids, hooks=True)
        # A second golden from a non-zero initial state: the text's first 7 tokens' state, then the rest.
        _, s7 = m(ids[:, :7])
        logits_b, state_b = m(ids[:, 7:], state=s7)
        lp, _ = m(ids, parallel=True)
    assert (lp - logits).abs().max() < 1e-4, "parallel and sequential forms disagree"
    g = {
        "text": TEXT,
        "input_ids": ids[0].tolist(),
        "n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "n_head": cfg.n_head, "state_size": cfg.state_size,
        "logits": r7(logits[0]), "vocab": cfg.vocab_size,
        "state_out": [r7(state[l, 0]) for l in range(cfg.n_layer)],
        "hook_state_last_layer_pos3": r7(hooks[f"blocks.{cfg.n_layer - 1}.hook_state"][0, 3]),
        "hook_resid_post_0": r7(hooks["blocks.0.hook_resid_post"][0]),
        "split": 7,
        "logits_after_split": r7(logits_b[0]),
        "state_out_after_split": [r7(state_b[l, 0]) for l in range(cfg.n_layer)],
    }
    with open(os.path.join(OUT, "golden.json"), "w") as fh:
        json.dump(g, fh)
    print("wrote", OUT)


if __name__ == "__main__":
    main()

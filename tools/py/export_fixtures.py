"""Builds the committed test-fixture models under tests/fixtures/models/ (see its README.md):

  gpt2-opset14/       onnx/model.onnx          opset 14 (LayerNorm decomposed into ReduceMean/Sub/Pow/...), no past
  gpt2-opset17/       model.onnx (top level)   opset 17 (LayerNormalization op), no past
  gpt2-past-opset14/  onnx/decoder_model.onnx  opset 14 with past_key_values.{i}.key/value inputs and
                                               present.{i}.key/value outputs (Optimum decoder_model.onnx layout)
  fused-attention/    onnx/model.onnx          hand-built graph with a com.microsoft Attention node (must be rejected)

The three gpt2-* fixtures share one random-weight GPT-2 (tools/py/gpt2_model.py, vocab 257 = 256 bytes +
<|endoftext|> = 256, 3 layers, d_model 64, 4 heads, 64 positions), exported with train_gpt2.export_onnx, and
each gets golden.json: activations of the PyTorch forward pass on one fixed input. Tokenizer files come from
tools/make-fixture-tokenizer.mjs, which this script runs (needs node). Usage, from the repository root:

  /usr/bin/python3 tools/py/export_fixtures.py [--out tests/fixtures/models]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from gpt2_model import GPT2LMHeadModel  # noqa: E402
from train_gpt2 import export_onnx, hf_config  # noqa: E402

SEED = 20240601
BOS = 256
VOCAB = 257
CFG = dict(vocab_size=VOCAB, n_positions=64, n_embd=64, n_layer=3, n_head=4, layer_norm_epsilon=1e-5,
           embd_pdrop=0.0, attn_pdrop=0.0, resid_pdrop=0.0)
# BOS + "Hello, world!\nA" as UTF-8 bytes (the same input as tools/py/export_hf_fixtures.py).
IDS = [BOS] + list("Hello, world!\nA".encode("utf-8"))
MAX_MODEL_BYTES = 5 * 1024 * 1024

GPT2_FIXTURES = [
    # (directory, opset, past, graph path inside the directory)
    ("gpt2-opset14", 14, False, "onnx/model.onnx"),
    ("gpt2-opset17", 17, False, "model.onnx"),
    ("gpt2-past-opset14", 14, True, "onnx/decoder_model.onnx"),
]


def build_model():
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(CFG)
    # Re-initialise with large weights so attention is far from uniform, and give LayerNorm gains/biases and all
    # biases non-trivial values, so a mistake anywhere in the engine shows in the activations.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "lm_head.weight":
                continue  # tied to transformer.wte.weight
            if "ln_" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 0.15)
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    model.eval()
    return model


def attention_internals(blk, x):
    """Recomputes one block's attention from its weights (independently of Attention.forward): returns
    pattern [H,T,T] (softmax probabilities), v [T,H,dh] (hook_v layout), value_norm [H,T], attn_out [T,d]."""
    a = blk.attn
    h, dh = a.n_head, a.head_dim
    t, d = x.shape
    y = F.layer_norm(x, (d,), blk.ln_1.weight, blk.ln_1.bias, blk.ln_1.eps)
    qkv = y @ a.c_attn.weight + a.c_attn.bias  # Conv1D weight is [in, out]
    q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
    q, k, v = (z.reshape(t, h, dh) for z in (q, k, v))  # [T,H,dh]
    scores = torch.einsum("ihe,jhe->hij", q, k) / math.sqrt(dh)
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    scores = scores.masked_fill(~causal, float("-inf"))
    pattern = torch.softmax(scores, dim=-1)  # [H,T,T]
    w_o = a.c_proj.weight.reshape(h, dh, d)  # rows h*dh..(h+1)*dh of the [in, out] c_proj weight
    vo = torch.einsum("jhe,hed->hjd", v, w_o)  # [H,T,d]: v_j^h @ W_O^h
    value_norm = vo.norm(dim=-1)  # [H,T]
    z = torch.einsum("hij,jhe->ihe", pattern, v).reshape(t, d)
    attn_out = z @ a.c_proj.weight + a.c_proj.bias
    return pattern, v, value_norm, attn_out


def r(x):
    return np.round(np.asarray(x.detach().double().numpy()), 7).tolist()


def golden(model):
    ids = torch.tensor([IDS])
    pos = torch.arange(len(IDS))[None]
    mask = torch.ones_like(ids)
    trace = []
    with torch.no_grad():
        logits, _ = model(ids, mask, pos, None, trace)
        layers = trace[:-1]
        g = {
            "source": "PyTorch forward pass of tools/py/gpt2_model.py (tools/py/export_fixtures.py), float32",
            "torch_version": torch.__version__, "seed": SEED,
            "n_layer": CFG["n_layer"], "n_head": CFG["n_head"], "d_model": CFG["n_embd"],
            "d_head": CFG["n_embd"] // CFG["n_head"], "vocab": VOCAB, "n_ctx": CFG["n_positions"],
            "input_ids": IDS, "position_ids": list(range(len(IDS))), "attention_mask": [1] * len(IDS),
            "resid_pre": [], "resid_mid": [], "resid_post": [], "attn_out": [], "pattern": [], "v": [],
            "value_norm": [],
        }
        worst = 0.0
        for blk, tr in zip(model.transformer.h, layers):
            x = tr["resid_pre"][0]
            pattern, v, value_norm, attn_out = attention_internals(blk, x)
            # The recomputation must reproduce what the model's own forward added to the residual stream.
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
    pm = np.array(g["pattern"])
    print(f"golden: T={len(IDS)}, recompute-vs-forward max|diff|={worst:.2e}, mean max attention prob "
          f"{pm.max(-1).mean():.3f}, logits std {np.std(g['logits']):.3f}", flush=True)
    return g


def onnx_summary(path, opset):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [opset], m.opset_import
    tied = [(i.name, list(i.dims)) for i in m.graph.initializer if sorted(i.dims) == sorted([VOCAB, CFG["n_embd"]])]
    assert len(tied) == 1, f"tied embedding stored {len(tied)} times: {tied}"
    return {"bytes": os.path.getsize(path), "inputs": [i.name for i in m.graph.input],
            "outputs": [o.name for o in m.graph.output], "has_LayerNormalization": "LayerNormalization" in ops,
            "tied_embedding_initializers": tied}


def ort_check(path, g, past):
    try:
        import onnxruntime as ort
    except ImportError:
        return "skipped (python onnxruntime not installed)"
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = np.array([g["input_ids"]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": np.array([g["position_ids"]])}
    if past:
        dh = CFG["n_embd"] // CFG["n_head"]
        for i in range(CFG["n_layer"]):
            for kind in ("key", "value"):
                feeds[f"past_key_values.{i}.{kind}"] = np.zeros((1, CFG["n_head"], 0, dh), np.float32)
    logits = s.run(["logits"], feeds)[0]
    err = float(np.abs(logits[0] - np.array(g["logits"])).max())
    assert err < 1e-3, err
    return f"ok, onnxruntime logits max|diff| {err:.2e}"


def write_gpt2_config(d):
    cfg = hf_config(CFG)
    cfg.update(bos_token_id=BOS, eos_token_id=BOS, vocab_size=VOCAB)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def build_fused_attention(path):
    """A tiny valid graph with a com.microsoft Attention node (what onnxruntime's transformer optimizer produces).
    It need not run; the loader must reject it naming the op."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    d, h, vocab = 16, 2, VOCAB
    rng = np.random.default_rng(0)
    f32 = lambda *shape: rng.normal(0, 0.1, shape).astype(np.float32)  # noqa: E731
    inits = [
        numpy_helper.from_array(f32(vocab, d), "transformer.wte.weight"),
        numpy_helper.from_array(np.ones(d, np.float32), "ln.weight"),
        numpy_helper.from_array(np.zeros(d, np.float32), "ln.bias"),
        numpy_helper.from_array(f32(d, 3 * d), "attn.qkv.weight"),
        numpy_helper.from_array(f32(3 * d), "attn.qkv.bias"),
        numpy_helper.from_array(f32(d, vocab), "lm_head.weight"),
    ]
    nodes = [
        helper.make_node("Gather", ["transformer.wte.weight", "input_ids"], ["emb"], name="embed"),
        helper.make_node("LayerNormalization", ["emb", "ln.weight", "ln.bias"], ["ln_out"], name="ln_1",
                         axis=-1, epsilon=1e-5),
        helper.make_node("Cast", ["attention_mask"], ["mask_i32"], name="mask_cast", to=TensorProto.INT32),
        helper.make_node("Attention", ["ln_out", "attn.qkv.weight", "attn.qkv.bias", "mask_i32"], ["attn_out"],
                         name="Attention_0", domain="com.microsoft", num_heads=h, unidirectional=1),
        helper.make_node("Add", ["emb", "attn_out"], ["resid"], name="residual"),
        helper.make_node("MatMul", ["resid", "lm_head.weight"], ["logits"], name="lm_head"),
    ]
    graph = helper.make_graph(
        nodes, "fused_attention_gpt2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", vocab])],
        inits)
    model = helper.make_model(graph, producer_name="precache-lens export_fixtures.py",
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return {"d": d, "n_head": h}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    ap.add_argument("--no-tokenizer", action="store_true", help="skip running node tools/make-fixture-tokenizer.mjs")
    a = ap.parse_args()
    model = build_model()
    g = golden(model)
    dirs = []
    for name, opset, past, rel in GPT2_FIXTURES:
        d = os.path.join(a.out, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        path = os.path.join(d, rel)
        export_onnx(model, path, opset=opset, past=past)
        info = onnx_summary(path, opset)
        assert info["bytes"] < MAX_MODEL_BYTES, info
        assert info["has_LayerNormalization"] == (opset >= 17), info
        write_gpt2_config(d)
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump(dict(g, fixture=name, opset=opset, past_inputs=past, graph=rel), f, separators=(",", ":"))
            f.write("\n")
        print(f"{name}: {rel} {info['bytes']} bytes, inputs {info['inputs']}, outputs {info['outputs']}, "
              f"tied embedding stored once as {info['tied_embedding_initializers']}; ort: {ort_check(path, g, past)}",
              flush=True)
        dirs.append(d)

    d = os.path.join(a.out, "fused-attention")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "onnx"))
    fa = build_fused_attention(os.path.join(d, "onnx", "model.onnx"))
    cfg = hf_config(dict(CFG, n_embd=fa["d"], n_head=fa["n_head"], n_layer=1))
    cfg.update(bos_token_id=BOS, eos_token_id=BOS)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    print(f"fused-attention: onnx/model.onnx {os.path.getsize(os.path.join(d, 'onnx', 'model.onnx'))} bytes", flush=True)
    dirs.append(d)

    if not a.no_tokenizer:
        subprocess.run(["node", os.path.join(ROOT, "tools", "make-fixture-tokenizer.mjs"), *dirs], check=True, cwd=ROOT)
    else:
        print("tokenizer skipped; run: node tools/make-fixture-tokenizer.mjs " + " ".join(dirs))


if __name__ == "__main__":
    main()

"""Exports tiny random-weight Hugging Face transformers models (GPT2LMHeadModel, GPTNeoXForCausalLM,
LlamaForCausalLM) to ONNX with eager attention, with golden activations from the PyTorch forward pass.
Runs where transformers is installed (the GPU machine); CPU is enough. Usage:
  python3 tools/py/export_hf_fixtures.py OUT_DIR
Each model goes to OUT_DIR/<name>/{config.json, onnx/model.onnx, golden.json}; tokenizer files are added by
tools/make-fixture-tokenizer.mjs (a byte-level BPE over 256 bytes + <|endoftext|> = 256)."""
import json
import os
import sys
import traceback

import numpy as np
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else "hf_fixtures"
VOCAB = 257
BOS = 256
IDS = [256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 10, 65]


def build(name):
    import transformers as tf
    common = dict(vocab_size=VOCAB, bos_token_id=BOS, eos_token_id=BOS)
    if name == "tiny-gpt2":
        cfg = tf.GPT2Config(n_layer=2, n_embd=64, n_head=4, n_positions=64, **common)
        cls = tf.GPT2LMHeadModel
    elif name == "tiny-gpt-neox":
        cfg = tf.GPTNeoXConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=256,
                               max_position_embeddings=64, rotary_pct=0.25, use_parallel_residual=True, **common)
        cls = tf.GPTNeoXForCausalLM
    elif name == "tiny-llama":
        cfg = tf.LlamaConfig(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                             intermediate_size=128, max_position_embeddings=64, **common)
        cls = tf.LlamaForCausalLM
    else:
        raise ValueError(name)
    cfg._attn_implementation = "eager"
    torch.manual_seed(7)
    try:
        model = cls(cfg, attn_implementation="eager")
    except TypeError:
        model = cls(cfg)
    # Random init leaves small weights; scale up so attention is not uniform and errors would show.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.15)
    model.eval()
    model.config._attn_implementation = "eager"
    return model


def layers_of(model):
    base = getattr(model, "transformer", None) or getattr(model, "gpt_neox", None) or getattr(model, "model", None)
    return base.h if hasattr(base, "h") else base.layers


class Wrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, position_ids):
        out = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False,
                     return_dict=True)
        return out.logits


def golden(model):
    ids = torch.tensor([IDS])
    pos = torch.arange(len(IDS))[None]
    mask = torch.ones_like(ids)
    pre, post, attn_out = [], [], []
    hooks = []
    for layer in layers_of(model):
        hooks.append(layer.register_forward_pre_hook(
            lambda mod, args, kwargs: pre.append((args[0] if args else kwargs["hidden_states"]).detach().clone()),
            with_kwargs=True))
        hooks.append(layer.register_forward_hook(
            lambda mod, args, out: post.append((out[0] if isinstance(out, tuple) else out).detach().clone())))
        att = getattr(layer, "attn", None) or getattr(layer, "attention", None) or getattr(layer, "self_attn", None)
        hooks.append(att.register_forward_hook(lambda mod, args, out: attn_out.append(out[0].detach().clone())))
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, output_attentions=True,
                    output_hidden_states=True, use_cache=False, return_dict=True)
    for h in hooks:
        h.remove()
    t = lambda x: np.asarray(x.float().numpy(), dtype=np.float64).round(7).tolist()
    return {
        "input_ids": IDS, "position_ids": list(range(len(IDS))),
        "resid_pre": [t(x[0]) for x in pre], "resid_post": [t(x[0]) for x in post],
        "attn_out": [t(x[0]) for x in attn_out],
        "pattern": [t(a[0]) for a in out.attentions],
        "ln_final": t(out.hidden_states[-1][0]),
        "logits": t(out.logits[0]),
    }


def export(model, path):
    ids = torch.tensor([IDS[:5]])
    args = (ids, torch.ones_like(ids), torch.arange(5)[None])
    kw = dict(input_names=["input_ids", "attention_mask", "position_ids"], output_names=["logits"],
              dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                            "attention_mask": {0: "batch_size", 1: "sequence_length"},
                            "position_ids": {0: "batch_size", 1: "sequence_length"},
                            "logits": {0: "batch_size", 1: "sequence_length"}}, opset_version=17)
    errs = []
    for dynamo in (False, True):
        try:
            torch.onnx.export(Wrap(model), args, path, dynamo=dynamo, do_constant_folding=True, **kw)
            return f"dynamo={dynamo}"
        except Exception as e:  # noqa: BLE001
            errs.append(f"dynamo={dynamo}: {type(e).__name__}: {e}"[:2000])
    raise RuntimeError("\n".join(errs))


def check(path, g):
    import onnxruntime as ort
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = np.array([g["input_ids"]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": np.array([g["position_ids"]])}
    feeds = {i.name: feeds[i.name] for i in s.get_inputs()}
    logits = s.run(None, feeds)[0]
    return float(np.abs(logits[0] - np.array(g["logits"])).max()), [i.name for i in s.get_inputs()]


def main():
    import transformers
    print("torch", torch.__version__, "transformers", transformers.__version__, flush=True)
    for name in ("tiny-gpt2", "tiny-gpt-neox", "tiny-llama"):
        try:
            model = build(name)
            d = os.path.join(OUT, name)
            os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
            g = golden(model)
            with open(os.path.join(d, "golden.json"), "w") as f:
                json.dump(g, f)
            model.config.to_json_file(os.path.join(d, "config.json"))
            how = export(model, os.path.join(d, "onnx", "model.onnx"))
            err, inputs = check(os.path.join(d, "onnx", "model.onnx"), g)
            print(name, "exported", how, "inputs", inputs, "ort-vs-torch max abs", err, flush=True)
        except Exception:  # noqa: BLE001
            print(name, "FAILED", flush=True)
            traceback.print_exc()


if __name__ == "__main__":
    main()

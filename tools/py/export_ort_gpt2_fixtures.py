"""Writes two fixtures the way onnxruntime's GPT-2 tooling and an old torch export write them (tiny random weights):

  gpt2model-last-state/   onnxruntime/python/tools/transformers/models/gpt2/gpt2_helper.py's GPT2Model export
                          (MODEL_CLASSES["GPT2Model"] = MyGPT2Model, output "last_state"): HF GPT2Model.forward
                          (input_ids.view(-1, T) before the wte Gather, no LM head), inputs input_ids / position_ids /
                          attention_mask (int64: convert_to_onnx without --use_int32_inputs) and past_{l}
                          [2, batch_size, n_head, past_seq_len, head_size]; outputs last_state and present_{l}
                          (torch.cat of key and value, as MyGPT2Model.post_process); torch.onnx.export opset 11,
                          do_constant_folding, the helper's dynamic axes. Next to it the model's HF config.json.
  gpt2-opset10-float-equal/  a GPT2LMHeadModel exported with torch.onnx.export(opset_version=10) whose attention
                          mask is float and compared with == 0 (Equal on floats): valid for torch's exporter, but
                          onnxruntime has no Equal kernel for float at opset 10, so it refuses the file.

  /usr/bin/python3 tools/py/export_ort_gpt2_fixtures.py [--out tests/fixtures/models]

Needs torch and onnx (the Debian python3-torch / python3-onnx packages); the tokenizer is copied from
tests/fixtures/models/gpt2-opset14 (the fixtures' byte tokenizer).
"""
import argparse
import json
import os
import shutil
import sys

import onnx
import torch

sys.path.insert(0, os.path.dirname(__file__))
from gpt2_model import Transformer  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CFG = dict(vocab_size=257, n_positions=64, n_embd=32, n_layer=2, n_head=2, layer_norm_epsilon=1e-5)
SEED = 23


def init_weights(m):
    torch.manual_seed(SEED)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "ln_" in name and name.endswith(".weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 0.3)
    m.eval()
    return m


class MyGPT2Model(Transformer):
    """gpt2_helper.MyGPT2Model over HF GPT2Model: forward(input_ids, position_ids, attention_mask, *past)."""

    def forward(self, input_ids, position_ids, attention_mask, *past):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        position_ids = position_ids.view(-1, input_shape[-1])
        hidden = self.drop(self.wte(input_ids) + self.wpe(position_ids))
        batch_size = input_ids.shape[0]
        mask = attention_mask.view(batch_size, -1)[:, None, None, :].to(hidden.dtype)
        mask = (1.0 - mask) * torch.finfo(hidden.dtype).min
        presents = []
        for blk, layer_past in zip(self.h, past):
            hidden, (k, v) = blk(hidden, mask, (layer_past[0], layer_past[1]))
            presents.append(torch.cat((k.unsqueeze(0), v.unsqueeze(0)), dim=0))
        hidden = self.ln_f(hidden)
        return hidden.view(input_shape + (hidden.size(-1),)), tuple(presents)


class FloatMaskLMHead(Transformer):
    """GPT2LMHeadModel whose float attention mask is turned into a bias with torch.where(mask == 0, min, 0)."""

    def forward(self, input_ids, attention_mask, position_ids):
        hidden = self.wte(input_ids) + self.wpe(position_ids)
        neg = torch.full([], torch.finfo(hidden.dtype).min)
        bias = torch.where(attention_mask[:, None, None, :] == 0, neg, torch.zeros([]))
        for blk in self.h:
            hidden, _ = blk(hidden, bias, None)
        hidden = self.ln_f(hidden)
        return torch.matmul(hidden, self.wte.weight.t())


def hf_config():
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
        "bos_token_id": 256, "eos_token_id": 256, "n_ctx": CFG["n_positions"], "n_positions": CFG["n_positions"],
        "vocab_size": CFG["vocab_size"], "n_embd": CFG["n_embd"], "n_layer": CFG["n_layer"], "n_head": CFG["n_head"],
        "layer_norm_epsilon": CFG["layer_norm_epsilon"],
        "_comment": f"random weights from tools/py/export_ort_gpt2_fixtures.py (seed {SEED}); not a trained model",
    }


def copy_tokenizer(d):
    src = os.path.join(REPO, "tests/fixtures/models/gpt2-opset14")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(src, f), os.path.join(d, f))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=2)
        f.write("\n")


def export_gpt2model(d):
    os.makedirs(d, exist_ok=True)
    model = init_weights(MyGPT2Model(CFG))
    L, H, dh = CFG["n_layer"], CFG["n_head"], CFG["n_embd"] // CFG["n_head"]
    # gpt2_helper.get_dummy_inputs: batch 1, past length 1, sequence length 1, a mask over both.
    past = [torch.rand(2, 1, H, 1, dh) * 2 - 1 for _ in range(L)]
    ids = torch.randint(0, CFG["vocab_size"] - 1, (1, 1), dtype=torch.int64)
    mask = torch.ones(1, 2, dtype=torch.int64)
    pos = torch.ones(1, 1, dtype=torch.int64)
    past_names = [f"past_{i}" for i in range(L)]
    present_names = [f"present_{i}" for i in range(L)]
    output_names = ["last_state"] + present_names
    dynamic_axes = {"input_ids": {0: "batch_size", 1: "seq_len"}, output_names[0]: {0: "batch_size", 1: "seq_len"}}
    for n in past_names:
        dynamic_axes[n] = {1: "batch_size", 3: "past_seq_len"}
    for n in present_names:
        dynamic_axes[n] = {1: "batch_size", 3: "total_seq_len"}
    dynamic_axes["position_ids"] = {0: "batch_size", 1: "seq_len"}
    dynamic_axes["attention_mask"] = {0: "batch_size", 1: "total_seq_len"}
    path = os.path.join(d, "gpt2_past.onnx")
    torch.onnx.export(model, tuple([ids, pos, mask] + past), path, input_names=["input_ids", "position_ids", "attention_mask"] + past_names,
                      output_names=output_names, dynamic_axes=dynamic_axes, opset_version=11, do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    assert [o.name for o in m.graph.output][0] == "last_state"
    copy_tokenizer(d)
    return path


def export_opset10(d):
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    model = init_weights(FloatMaskLMHead(CFG))
    ids = torch.tensor([[256, 72, 105]])
    path = os.path.join(d, "onnx/model.onnx")
    torch.onnx.export(model, (ids, torch.ones(1, 3), torch.arange(3)[None]), path, input_names=["input_ids", "attention_mask", "position_ids"],
                      output_names=["logits"], dynamic_axes={k: {0: "batch_size", 1: "sequence_length"} for k in ("input_ids", "attention_mask", "position_ids", "logits")},
                      opset_version=10, do_constant_folding=True)
    m = onnx.load(path)
    ops = {n.op_type for n in m.graph.node}
    assert "Equal" in ops, ops
    copy_tokenizer(d)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "tests/fixtures/models"))
    a = ap.parse_args()
    for p in (export_gpt2model(os.path.join(a.out, "gpt2model-last-state")), export_opset10(os.path.join(a.out, "gpt2-opset10-float-equal"))):
        print(f"wrote {p} ({os.path.getsize(p) // 1024} KiB)")


if __name__ == "__main__":
    main()

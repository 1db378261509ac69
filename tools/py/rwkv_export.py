"""Exports tools/py/rwkv_model.py's RWKV-5 to an ONNX graph built op by op with onnx.helper (Hugging Face layout):
inputs `input_ids` [B,T] int64 and `state_in.{l}` [B,S] float32; outputs `logits` [B,T,V], `state_out.{l}` [B,S],
`blocks.{l}.hook_resid_pre|mid|post` [B,T,C], `blocks.{l}.hook_state` [B,T,S] (the state after each position) and
`ln_final.hook_normalized` [B,T,C]. The time recurrence is one ONNX `Scan` per layer whose body is the reference's
loop body, op for op, so the graph runs the exact recurrence for any T (no unrolling, no parallel reformulation).

  /usr/bin/python3 tools/py/rwkv_export.py --weights runs/rwkv/model.pt --out models/precache-rwkv-4l"""
import argparse
import json
import os
import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from rwkv_model import GN_EPS, LN_EPS, RWKV, RWKVConfig

OPSET = 17


class G:
    """A graph under construction: nodes, initializers, unique names."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, name, arr, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        out = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name("n_" + op_type), **attrs))
        return out


def t(p):
    return p.detach().cpu().numpy().astype(np.float32)


def scan_body(l, H, K):
    """One step of the WKV recurrence for layer l (u, w come from the outer graph)."""
    b = []
    P = f"wkv{l}."
    i64 = lambda name, v: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(v, dtype=np.int64), name + "_v"))
    b.append(i64(P + "ax_m1", [-1]))
    b.append(i64(P + "ax_m2", [-2]))
    b += [
        helper.make_node("Unsqueeze", [P + "k_t", P + "ax_m1"], [P + "k4"]),
        helper.make_node("Unsqueeze", [P + "v_t", P + "ax_m2"], [P + "v4"]),
        helper.make_node("Mul", [P + "k4", P + "v4"], [P + "kv"]),
        helper.make_node("Mul", [f"l{l}.u", P + "kv"], [P + "ukv"]),
        helper.make_node("Add", [P + "s_in", P + "ukv"], [P + "s_read"]),
        helper.make_node("Unsqueeze", [P + "r_t", P + "ax_m2"], [P + "r4"]),
        helper.make_node("MatMul", [P + "r4", P + "s_read"], [P + "o4"]),
        helper.make_node("Squeeze", [P + "o4", P + "ax_m2"], [P + "o_t"]),
        helper.make_node("Mul", [f"l{l}.w", P + "s_in"], [P + "ws"]),
        helper.make_node("Add", [P + "ws", P + "kv"], [P + "s_out"]),
        helper.make_node("Identity", [P + "s_out"], [P + "s_t"]),
    ]
    f = lambda n, shape: helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
    return helper.make_graph(
        b, f"wkv_step_{l}",
        [f(P + "s_in", ["B", H, K, K]), f(P + "r_t", ["B", H, K]), f(P + "k_t", ["B", H, K]), f(P + "v_t", ["B", H, K])],
        [f(P + "s_out", ["B", H, K, K]), f(P + "o_t", ["B", H, K]), f(P + "s_t", ["B", H, K, K])],
    )


def build_graph(model: RWKV) -> onnx.ModelProto:
    cfg = model.cfg
    C, H, K, L, S, V = cfg.n_embd, cfg.n_head, cfg.head_size, cfg.n_layer, cfg.state_size, cfg.vocab_size
    HKK = H * K * K
    g = G()
    ax = lambda name, v: g.const(name, v, np.int64)
    ax("ax1", [1]); ax("zero", [0]); ax("m1", [-1]); ax("idx_last", -1)
    ax("shape_heads", [0, 0, H, K]); ax("shape_state", [0, H, K, K]); ax("shape_btc", [0, 0, C]); ax("shape_flat", [0, 0, HKK])

    def ln(x, mod, base):
        return g.op("LayerNormalization", [x, g.const(base + ".w", t(mod.weight)), g.const(base + ".b", t(mod.bias))], axis=-1, epsilon=LN_EPS)

    def linear(x, lin, base):
        return g.op("MatMul", [x, g.const(base, t(lin.weight).T.copy())])

    def sl(x, start, end):
        return g.op("Slice", [x, g.const(g.name("st"), [start], np.int64), g.const(g.name("en"), [end], np.int64), "ax1"])

    def mix(a, xx, m, base):
        mm = t(m)
        return g.op("Add", [g.op("Mul", [a, g.const(base, mm)]), g.op("Mul", [xx, g.const(base + "_1m", (1 - m).detach().numpy().astype(np.float32))])])

    def shift(a, prev):
        return g.op("Concat", [g.op("Unsqueeze", [prev, "ax1"]), g.op("Slice", [a, "zero", "m1", "ax1"])], axis=1)

    emb = g.const("emb.weight", t(model.emb.weight))
    x = g.op("Gather", [emb, "input_ids"], axis=0)
    x = ln(x, model.ln0, "ln0")
    outputs = []
    for l, blk in enumerate(model.blocks):
        st = f"state_in.{l}"
        g.op("Identity", [x], f"blocks.{l}.hook_resid_pre")
        att_prev = sl(st, 0, C)
        s0 = g.op("Reshape", [sl(st, C, C + HKK), "shape_state"])
        ffn_prev = sl(st, C + HKK, S)
        a = ln(x, blk.ln1, f"l{l}.ln1")
        xx = shift(a, att_prev)
        att = blk.att
        heads_tbhk = lambda y: g.op("Transpose", [g.op("Reshape", [y, "shape_heads"])], perm=[1, 0, 2, 3])
        r = heads_tbhk(linear(mix(a, xx, att.mix_r, f"l{l}.att.mix_r"), att.receptance, f"l{l}.att.Wr"))
        k = heads_tbhk(linear(mix(a, xx, att.mix_k, f"l{l}.att.mix_k"), att.key, f"l{l}.att.Wk"))
        v = heads_tbhk(linear(mix(a, xx, att.mix_v, f"l{l}.att.mix_v"), att.value, f"l{l}.att.Wv"))
        gz = linear(mix(a, xx, att.mix_g, f"l{l}.att.mix_g"), att.gate, f"l{l}.att.Wg")
        gate = g.op("Mul", [gz, g.op("Sigmoid", [gz])])
        w = torch.exp(-torch.exp(att.decay))
        g.const(f"l{l}.w", t(w).reshape(H, K, 1))
        g.const(f"l{l}.u", t(att.bonus).reshape(H, K, 1))
        s_fin, y_t, s_all = f"l{l}.s_fin", f"l{l}.y_tbhk", f"l{l}.s_all"
        g.nodes.append(helper.make_node("Scan", [s0, r, k, v], [s_fin, y_t, s_all], name=f"wkv_scan_{l}", num_scan_inputs=3, body=scan_body(l, H, K)))
        y = g.op("Transpose", [y_t], perm=[1, 0, 2, 3])  # [B,T,H,K]
        mean = g.op("ReduceMean", [y], axes=[-1], keepdims=1)
        dev = g.op("Sub", [y, mean])
        var = g.op("ReduceMean", [g.op("Mul", [dev, dev])], axes=[-1], keepdims=1)
        norm = g.op("Div", [dev, g.op("Sqrt", [g.op("Add", [var, g.const(f"l{l}.gn_eps", np.float32(GN_EPS))])])])
        norm = g.op("Add", [g.op("Mul", [norm, g.const(f"l{l}.gn.w", t(att.ln_x.weight).reshape(H, K))]), g.const(f"l{l}.gn.b", t(att.ln_x.bias).reshape(H, K))])
        y = g.op("Reshape", [norm, "shape_btc"])
        x = g.op("Add", [x, linear(g.op("Mul", [y, gate]), att.output, f"l{l}.att.Wo")], f"blocks.{l}.hook_resid_mid")
        f = ln(x, blk.ln2, f"l{l}.ln2")
        ff = blk.ffn
        xf = shift(f, ffn_prev)
        kk = g.op("Relu", [linear(mix(f, xf, ff.mix_k, f"l{l}.ffn.mix_k"), ff.key, f"l{l}.ffn.Wk")])
        kk = g.op("Mul", [kk, kk])
        rr = g.op("Sigmoid", [linear(mix(f, xf, ff.mix_r, f"l{l}.ffn.mix_r"), ff.receptance, f"l{l}.ffn.Wr")])
        x = g.op("Add", [x, g.op("Mul", [rr, linear(kk, ff.value, f"l{l}.ffn.Wv")])], f"blocks.{l}.hook_resid_post")
        flat = g.op("Reshape", [g.op("Transpose", [s_all], perm=[1, 0, 2, 3, 4]), "shape_flat"])
        g.op("Concat", [a, flat, f], f"blocks.{l}.hook_state", axis=2)
        g.op("Gather", [f"blocks.{l}.hook_state", "idx_last"], f"state_out.{l}", axis=1)
        outputs += [f"blocks.{l}.hook_resid_pre", f"blocks.{l}.hook_resid_mid", f"blocks.{l}.hook_resid_post", f"blocks.{l}.hook_state"]
    z = ln(x, model.ln_out, "ln_out")
    g.op("Identity", [z], "ln_final.hook_normalized")
    g.op("MatMul", [z, g.op("Transpose", [emb], perm=[1, 0])], "logits")
    f32 = lambda n, shape: helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])] + [f32(f"state_in.{l}", ["batch", S]) for l in range(L)]
    outs = [f32("logits", ["batch", "seq", V])] + [f32(f"state_out.{l}", ["batch", S]) for l in range(L)]
    for name in outputs + ["ln_final.hook_normalized"]:
        outs.append(f32(name, ["batch", "seq", S if name.endswith("hook_state") else C]))
    graph = helper.make_graph(g.nodes, "rwkv5", ins, outs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="precache-lens rwkv_export.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def export_dir(model: RWKV, out: str, tokenizer_cmd=None):
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    onnx.save(build_graph(model), os.path.join(out, "onnx", "model.onnx"))
    cfg = model.cfg.to_hf()
    if model.cfg.vocab_size != 50257:
        cfg["bos_token_id"] = cfg["eos_token_id"] = model.cfg.vocab_size - 1
    with open(os.path.join(out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)


def load(path):
    ck = torch.load(path, map_location="cpu")
    model = RWKV(RWKVConfig(**ck["cfg"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    export_dir(load(a.weights), a.out)
    print("wrote", a.out, "(run: node tools/make-gpt2-tokenizer.mjs", a.out + ")")

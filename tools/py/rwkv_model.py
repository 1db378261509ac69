"""RWKV-5 ("Eagle", static per-channel decay, matrix-valued state per head) in PyTorch: the reference the exported
ONNX graph is checked against, with an exact sequential recurrence (the reference) and an exact parallel form of
the same sums (for training). State per layer, flat, in the layout the engine and the hooks share:

    [ att_shift (C) | wkv (H*K*K, row-major [h, i=key channel, j=value channel]) | ffn_shift (C) ]

att_shift / ffn_shift are the last position's normalised block input (time mix / channel mix token shift), wkv is
S_h = sum_i w^(t-1-i) k_i^T v_i (+ decayed initial state). See tools/py/rwkv_export.py for the ONNX graph."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

GN_EPS = 1e-5
LN_EPS = 1e-5


class RWKVConfig:
    def __init__(self, vocab_size=50257, n_layer=4, n_embd=128, n_head=4, ffn_mult=4, ctx=128):
        self.vocab_size, self.n_layer, self.n_embd, self.n_head = vocab_size, n_layer, n_embd, n_head
        self.head_size = n_embd // n_head
        self.ffn = ffn_mult * n_embd
        self.ctx = ctx

    @property
    def state_size(self):
        return 2 * self.n_embd + self.n_head * self.head_size * self.head_size

    def to_hf(self):
        return {
            "architectures": ["Rwkv5ForCausalLM"],
            "model_type": "rwkv5",
            "rwkv_version": 5,
            "vocab_size": self.vocab_size,
            "n_layer": self.n_layer,
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "head_size": self.head_size,
            "intermediate_size": self.ffn,
            "state_size": self.state_size,
            "n_positions": 1024,
            "context_length": self.ctx,
            "layer_norm_epsilon": LN_EPS,
            "group_norm_epsilon": GN_EPS,
            "bos_token_id": 50256,
            "eos_token_id": 50256,
            "tie_word_embeddings": True,
        }


def shift(x, prev):
    """Token shift: position t sees x_{t-1}; position 0 sees the state's last input `prev` [B, C]."""
    return torch.cat([prev.unsqueeze(1), x[:, :-1]], dim=1)


def wkv_sequential(r, k, v, w, u, s0):
    """r, k, v [B,H,T,K]; w, u [H,K]; s0 [B,H,K,K]. out_t = r_t (S + diag(u) k_t^T v_t); S <- diag(w) S + k_t^T v_t.
    Returns out [B,H,T,K] and the state after every position [B,H,T,K,K]."""
    s = s0
    outs, states = [], []
    wc, uc = w.unsqueeze(-1), u.unsqueeze(-1)
    for t in range(r.shape[2]):
        kv = k[:, :, t].unsqueeze(-1) * v[:, :, t].unsqueeze(-2)
        outs.append(torch.matmul(r[:, :, t].unsqueeze(-2), s + uc * kv).squeeze(-2))
        s = wc * s + kv
        states.append(s)
    return torch.stack(outs, 2), torch.stack(states, 2)


def wkv_parallel(r, k, v, logw, u, s0, myopic=False):
    """The same sums in one shot (O(T^2 K) memory): for training. logw = log w [H,K] (< 0). Returns out and the
    final state only. myopic: no gradient reaches an earlier position's k, v through the state (the seed text's
    stop-gradient for a recurrent model); the current position's own term keeps its gradient."""
    T = r.shape[2]
    t = torch.arange(T, device=r.device)
    diff = (t[:, None] - 1 - t[None, :]).clamp(min=0).to(r.dtype)
    d = torch.exp(diff[None, :, :, None] * logw[:, None, None, :])  # [H,T,T,K]
    mask = (t[None, :] < t[:, None]).to(r.dtype)[None, :, :, None]
    eye = torch.eye(T, device=r.device, dtype=r.dtype)[None, :, :, None]
    if myopic:
        past = ((r.unsqueeze(3) * (d * mask).unsqueeze(0)) * k.detach().unsqueeze(2)).sum(-1)
        own = (r * u.unsqueeze(1) * k).sum(-1, keepdim=True) * v
        out = torch.matmul(past, v.detach()) + own
    else:
        d = d * mask + eye * u[:, None, None, :]
        att = ((r.unsqueeze(3) * d.unsqueeze(0)) * k.unsqueeze(2)).sum(-1)
        out = torch.matmul(att, v)
    wt = torch.exp(t.to(r.dtype)[None, :, None] * logw[:, None, :])  # w^t [H,T,K]
    out = out + torch.matmul(r * wt.unsqueeze(0), s0)
    decay_to_end = torch.exp((T - 1 - t).to(r.dtype)[None, :, None] * logw[:, None, :])  # [H,T,K]
    s_end = torch.matmul((k * decay_to_end.unsqueeze(0)).transpose(-1, -2), v) + torch.exp(T * logw).unsqueeze(-1) * s0
    return out, s_end


def wkv_chunked(r, k, v, logw, u, s0, myopic=False, chunk=16):
    """wkv_parallel's sums, chunk by chunk (O(T chunk K) memory instead of O(T^2 K)): within a chunk the explicit
    decay matrix, between chunks the state. Same values and, with myopic, the same gradients (the earlier positions'
    k, v enter both the in-chunk sums and the carried state detached; the current position's own term keeps its
    gradient; the decays keep theirs). For training: at context 512 it is what makes the RWKV pair fit two cores."""
    if torch.is_autocast_cpu_enabled() or torch.is_autocast_enabled():  # bf16 projections; sums and decays in fp32
        with torch.autocast(r.device.type, enabled=False):
            return wkv_chunked(r.float(), k.float(), v.float(), logw.float(), u.float(), s0.float(), myopic, chunk)
    T = r.shape[2]
    kk, vv = (k.detach(), v.detach()) if myopic else (k, v)
    s = s0
    outs = []
    for c0 in range(0, T, chunk):
        c1 = min(T, c0 + chunk)
        n = c1 - c0
        rc, kc, vc = r[:, :, c0:c1], kk[:, :, c0:c1], vv[:, :, c0:c1]
        t = torch.arange(n, device=r.device)
        diff = (t[:, None] - 1 - t[None, :]).clamp(min=0).to(r.dtype)
        mask = (t[None, :] < t[:, None]).to(r.dtype)[None, :, :, None]
        d = torch.exp(diff[None, :, :, None] * logw[:, None, None, :]) * mask  # [H,n,n,K], strictly earlier
        past = ((rc.unsqueeze(3) * d.unsqueeze(0)) * kc.unsqueeze(2)).sum(-1)  # [B,H,n,n]
        own = (rc * u.unsqueeze(1) * k[:, :, c0:c1]).sum(-1, keepdim=True) * v[:, :, c0:c1]
        wt = torch.exp(t.to(r.dtype)[None, :, None] * logw[:, None, :])  # w^(i - c0) [H,n,K]
        outs.append(torch.matmul(past, vc) + own + torch.matmul(rc * wt.unsqueeze(0), s))
        to_end = torch.exp((n - 1 - t).to(r.dtype)[None, :, None] * logw[:, None, :])
        s = torch.matmul((kc * to_end.unsqueeze(0)).transpose(-1, -2), vc) + torch.exp(n * logw).unsqueeze(-1) * s
    return torch.cat(outs, 2), s


class TimeMix(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        C, H, K = cfg.n_embd, cfg.n_head, cfg.head_size
        self.H, self.K = H, K
        ratio = 1.0 - layer / max(1, cfg.n_layer)
        ddd = torch.arange(C, dtype=torch.float32) / C
        self.mix_r = nn.Parameter(ddd ** (0.5 * ratio))
        self.mix_k = nn.Parameter(ddd ** ratio)
        self.mix_v = nn.Parameter(ddd ** ratio + 0.3 * layer / max(1, cfg.n_layer - 1))
        self.mix_g = nn.Parameter(ddd ** (0.5 * ratio))
        n = torch.arange(C, dtype=torch.float32)
        # decay: w = exp(-exp(decay)), a spread of memory lengths per channel (as RWKV initialises it)
        self.decay = nn.Parameter((-6 + 5 * (n / (C - 1)) ** (0.7 + 1.3 * (layer / max(1, cfg.n_layer - 1)))).reshape(H, K))
        self.bonus = nn.Parameter((ratio * (1 - n / (C - 1)) + 0.1 * ((n + 1) % 3 - 1)).reshape(H, K))
        self.receptance = nn.Linear(C, C, bias=False)
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.gate = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.ln_x = nn.GroupNorm(H, C, eps=GN_EPS)

    def projections(self, x, prev, myopic=False):
        xx = shift(x.detach() if myopic else x, prev)
        mix = lambda m: x * m + xx * (1 - m)
        B, T, C = x.shape
        heads = lambda y: y.view(B, T, self.H, self.K).transpose(1, 2)
        r = heads(self.receptance(mix(self.mix_r)))
        k = heads(self.key(mix(self.mix_k)))
        v = heads(self.value(mix(self.mix_v)))
        g = F.silu(self.gate(mix(self.mix_g)))
        return r, k, v, g

    def finish(self, out, g):
        B, H, T, K = out.shape
        y = out.transpose(1, 2).reshape(B * T, H * K)
        y = self.ln_x(y).view(B, T, H * K)
        return self.output(y * g)


class ChannelMix(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        C = cfg.n_embd
        ratio = 1.0 - layer / max(1, cfg.n_layer)
        ddd = torch.arange(C, dtype=torch.float32) / C
        self.mix_k = nn.Parameter(ddd ** ratio)
        self.mix_r = nn.Parameter(ddd ** ratio)
        self.key = nn.Linear(C, cfg.ffn, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(cfg.ffn, C, bias=False)

    def forward(self, x, prev, myopic=False):
        xx = shift(x.detach() if myopic else x, prev)
        k = torch.relu(self.key(x * self.mix_k + xx * (1 - self.mix_k))) ** 2
        return torch.sigmoid(self.receptance(x * self.mix_r + xx * (1 - self.mix_r))) * self.value(k)


class Block(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        C = cfg.n_embd
        self.ln1 = nn.LayerNorm(C, eps=LN_EPS)
        self.ln2 = nn.LayerNorm(C, eps=LN_EPS)
        self.att = TimeMix(cfg, layer)
        self.ffn = ChannelMix(cfg, layer)


class RWKV(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        nn.init.uniform_(self.emb.weight, -1e-4, 1e-4)
        self.ln0 = nn.LayerNorm(cfg.n_embd, eps=LN_EPS)
        self.blocks = nn.ModuleList([Block(cfg, l) for l in range(cfg.n_layer)])
        self.ln_out = nn.LayerNorm(cfg.n_embd, eps=LN_EPS)
        for b in self.blocks:
            for lin in (b.att.receptance, b.att.key, b.att.value, b.att.gate, b.ffn.key):
                nn.init.normal_(lin.weight, std=0.5 / math.sqrt(cfg.n_embd))
            for lin in (b.att.output, b.ffn.value, b.ffn.receptance):
                nn.init.zeros_(lin.weight)

    def zero_state(self, B):
        return torch.zeros(self.cfg.n_layer, B, self.cfg.state_size)

    def split_state(self, s):
        C, H, K = self.cfg.n_embd, self.cfg.n_head, self.cfg.head_size
        return s[:, :C], s[:, C:C + H * K * K].reshape(-1, H, K, K), s[:, C + H * K * K:]

    def forward(self, ids, state=None, parallel=False, hooks=False, features=False, myopic=False):
        """ids [B,T] -> logits [B,T,V], final state [L,B,S]; with hooks, also a dict of hook tensors (see export)."""
        B, T = ids.shape
        if state is None:
            state = self.zero_state(B)
        x = self.ln0(self.emb(ids))
        out_state, hk = [], {}
        for l, blk in enumerate(self.blocks):
            att_prev, s0, ffn_prev = self.split_state(state[l])
            hk[f"blocks.{l}.hook_resid_pre"] = x
            a = blk.ln1(x)
            r, k, v, g = blk.att.projections(a, att_prev, myopic)
            w_log = -torch.exp(blk.att.decay)
            if parallel and not hooks:
                y, s_end = wkv_chunked(r, k, v, w_log, blk.att.bonus, s0, myopic)
                s_all = None
            else:
                y, s_all = wkv_sequential(r, k, v, torch.exp(w_log), blk.att.bonus, s0)
                s_end = s_all[:, :, -1]
            x = x + blk.att.finish(y, g)
            hk[f"blocks.{l}.hook_resid_mid"] = x
            f = blk.ln2(x)
            x = x + blk.ffn(f, ffn_prev, myopic)
            hk[f"blocks.{l}.hook_resid_post"] = x
            out_state.append(torch.cat([a[:, -1], s_end.reshape(B, -1), f[:, -1]], dim=1))
            if hooks:
                hk[f"blocks.{l}.hook_state"] = torch.cat([a, s_all.permute(0, 2, 1, 3, 4).reshape(B, T, -1), f], dim=2)
        z = self.ln_out(x)
        hk["ln_final.hook_normalized"] = z
        if features:
            return z
        logits = F.linear(z, self.emb.weight)
        if hooks:
            return logits, torch.stack(out_state), hk
        return logits, torch.stack(out_state)

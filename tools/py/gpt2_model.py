"""GPT-2 (learned positions, pre-LN, gelu_new, tied embeddings) with Hugging Face GPT2LMHeadModel's parameter
names and eager attention graph, plus the myopic-descent attention of the seed text. Shared by training and
fixture export so that every graph the project exports has the structure users' GPT-2 exports have."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv1D(nn.Module):
    """HF's GPT-2 'Conv1D': a linear layer whose weight is stored [in, out]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.size(-1)), self.weight).reshape(*x.shape[:-1], -1)


def causal_sdpa(q, k, v, dropout_p=0.0):
    """Causal softmax attention: torch>=2's fused kernel where it exists, else the same maths written out."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
    t, s = q.size(-2), k.size(-2)
    w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.size(-1))
    mask = torch.ones(t, s, dtype=torch.bool, device=q.device).tril(s - t)
    w = F.softmax(w.masked_fill(~mask, float("-inf")), dim=-1)
    if dropout_p > 0:
        w = F.dropout(w, dropout_p)
    return torch.matmul(w, v)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, self.n_head = cfg["n_embd"], cfg["n_head"]
        self.head_dim = d // self.n_head
        self.c_attn = Conv1D(3 * d, d)
        self.c_proj = Conv1D(d, d)
        self.attn_dropout = nn.Dropout(cfg.get("attn_pdrop", 0.0))
        self.resid_dropout = nn.Dropout(cfg.get("resid_pdrop", 0.0))
        n = cfg["n_positions"]
        self.register_buffer("bias", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n), persistent=False)
        self.myopic = False  # set by the trainer; forward values are identical either way
        self.fast = False  # use fused SDPA in (non-myopic) training on torch>=2

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.n_head, self.head_dim).transpose(1, 2)

    def forward(self, x, attention_mask=None, past=None):
        q, k, v = self.c_attn(x).split(x.size(-1), dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        if past is not None:
            k = torch.cat([past[0], k], dim=-2)
            v = torch.cat([past[1], v], dim=-2)
        present = (k, v)
        p = self.attn_dropout.p if self.training else 0.0
        if self.fast and not self.myopic and past is None and attention_mask is None:
            out = causal_sdpa(q, k, v, dropout_p=p)
        elif self.fast and self.myopic and past is None and attention_mask is None and p == 0.0:
            out = self.myopic_attention_fast(q, k, v)
        elif self.myopic:
            out = self.myopic_attention(q, k, v)
        else:
            out = self.eager_attention(q, k, v, attention_mask)
        b, h, t, dh = out.shape
        out = out.transpose(1, 2).reshape(b, t, h * dh)
        return self.resid_dropout(self.c_proj(out)), present

    def eager_attention(self, q, k, v, attention_mask):
        # Same op sequence as HF's GPT2Attention eager path: matmul, scale, causal where, additive mask, softmax, matmul.
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype, device=w.device)
        qlen, klen = q.size(-2), k.size(-2)
        causal = self.bias[:, :, klen - qlen:klen, :klen]
        w = torch.where(causal, w, torch.full([], torch.finfo(w.dtype).min, dtype=w.dtype, device=w.device))
        if attention_mask is not None:
            w = w + attention_mask
        w = F.softmax(w, dim=-1)
        w = self.attn_dropout(w)
        return torch.matmul(w, v)

    def myopic_attention(self, q, k, v):
        """Myopic descent: a query at i reads keys/values of j < i through a stop-gradient, so no gradient of
        position i's loss reaches an earlier position; the diagonal j = i and the query keep theirs."""
        t = q.size(-2)
        scale = 1.0 / math.sqrt(q.size(-1))
        s_live = torch.matmul(q, k.transpose(-1, -2)) * scale
        s_stop = torch.matmul(q, k.detach().transpose(-1, -2)) * scale
        eye = torch.eye(t, dtype=torch.bool, device=q.device).view(1, 1, t, t)
        s = torch.where(eye, s_live, s_stop)
        s = s.masked_fill(~self.bias[:, :, :t, :t], torch.finfo(s.dtype).min)
        a = self.attn_dropout(F.softmax(s, dim=-1))
        diag = torch.diagonal(a, dim1=-2, dim2=-1).unsqueeze(-1)
        off = a.masked_fill(eye, 0.0)
        return torch.matmul(off, v.detach()) + diag * v


    def myopic_attention_fast(self, q, k, v):
        """The gradients of myopic_attention (without attention dropout) from a fused causal kernel on detached keys
        and values plus two terms that are zero in the forward pass and give back the diagonal's gradients:
        d out_i / d v_i = a_ii, and d out_i / d s_ii = a_ii (v_i - out_i) with s_ii = q_i.k_i / sqrt(dh) reaching
        k_i only (q already gets its full gradient through the fused kernel). a_ii needs the softmax normaliser,
        computed without gradient; the [T,T] scores are never kept for the backward pass."""
        scale = 1.0 / math.sqrt(q.size(-1))
        out = causal_sdpa(q, k.detach(), v.detach())
        t = q.size(-2)
        with torch.no_grad():
            s = torch.matmul(q, k.transpose(-1, -2)).float() * scale
            s = s.masked_fill(~self.bias[:, :, :t, :t], float("-inf"))
            lse = torch.logsumexp(s, dim=-1)
            del s
            a_ii = torch.exp((q * k).sum(-1).float() * scale - lse).to(q.dtype).unsqueeze(-1)
        s_ii = (q.detach() * k).sum(-1, keepdim=True) * scale
        zero_v = v - v.detach()
        zero_s = s_ii - s_ii.detach()
        return out + a_ii * zero_v + zero_s * a_ii * (v.detach() - out.detach())


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.c_fc = Conv1D(4 * d, d)
        self.c_proj = Conv1D(d, 4 * d)
        self.dropout = nn.Dropout(cfg.get("resid_pdrop", 0.0))

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(cfg)

    def forward(self, x, attention_mask=None, past=None, trace=None):
        a, present = self.attn(self.ln_1(x), attention_mask, past)
        mid = x + a
        out = mid + self.mlp(self.ln_2(mid))
        if trace is not None:
            trace.append({"resid_pre": x, "resid_mid": mid, "resid_post": out})
        return out, present


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.drop = nn.Dropout(cfg.get("embd_pdrop", 0.0))
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg.get("layer_norm_epsilon", 1e-5))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.transformer = Transformer(cfg)
        self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2's scaled init of residual projections
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg["n_layer"]))

    def set_mode(self, myopic=False, fast=False):
        for blk in self.transformer.h:
            blk.attn.myopic, blk.attn.fast = myopic, fast

    def forward(self, input_ids, attention_mask=None, position_ids=None, past=None, trace=None):
        tr = self.transformer
        x = tr.drop(tr.wte(input_ids) + tr.wpe(position_ids))
        add_mask = None
        if attention_mask is not None:
            m = attention_mask[:, None, None, :].to(x.dtype)
            add_mask = (1.0 - m) * torch.finfo(x.dtype).min
        presents = []
        for i, blk in enumerate(tr.h):
            x, present = blk(x, add_mask, None if past is None else past[i], trace)
            presents.append(present)
        x = tr.ln_f(x)
        if trace is not None:
            trace.append({"ln_final": x})
        return self.lm_head(x), presents


def count_params(model):
    return sum(p.numel() for p in model.parameters())

"""llama2.c's own algorithms, re-stated in Python as the reference a conversion is checked against: reading the legacy
("version 0") checkpoint and tok512-style tokenizer files, the BPE encoder of run.c (dummy-prefix space, codepoints,
byte fallback as byte + 3, merging the best-scoring adjacent pair until none is left) and the forward pass of run.c
(RMSNorm, interleaved-pair RoPE, grouped-query attention, SwiGLU, tied classifier), one position at a time with its
own key/value cache. Formats: ../../../shared/third-party/stories260K/README.md (facts from llama2.c, our code).
"""
import math
import struct

import torch

HEADER = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")


def read_checkpoint(path):
    """Returns (cfg, weights): cfg with the seven header fields (+ shared_classifier), weights as float32 tensors in
    llama2.c's [out, in] layout: tok_emb [V,d], rms_att [L,d], wq [L,d,d], wk/wv [L,kv*dh,d], wo [L,d,d], rms_ffn [L,d],
    w1/w3 [L,hid,d], w2 [L,d,hid], rms_final [d]."""
    with open(path, "rb") as f:
        raw = f.read()
    cfg = dict(zip(HEADER, struct.unpack_from("<7i", raw, 0)))
    cfg["shared_classifier"] = cfg["vocab_size"] > 0
    cfg["vocab_size"] = abs(cfg["vocab_size"])
    d, hid, L, h, kv, V = (cfg[k] for k in HEADER[:6])
    dh = d // h
    data = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32)
    off = 0

    def take(*shape):
        nonlocal off
        n = math.prod(shape)
        t = data[off:off + n].reshape(shape).clone()
        off += n
        return t

    w = {
        "tok_emb": take(V, d), "rms_att": take(L, d), "wq": take(L, d, h * dh), "wk": take(L, kv * dh, d),
        "wv": take(L, kv * dh, d), "wo": take(L, d, h * dh), "rms_ffn": take(L, d), "w1": take(L, hid, d),
        "w2": take(L, d, hid), "w3": take(L, hid, d), "rms_final": take(d),
    }
    off += cfg["seq_len"] * dh // 2 * 2  # freq_cis_real, freq_cis_imag: recomputed, not read
    if not cfg["shared_classifier"]:
        w["wcls"] = take(V, d)
    if off != data.numel():
        raise ValueError(f"{path}: {data.numel() - off} floats left over after the weights; not a version-0 checkpoint of this shape")
    return cfg, w


def read_tokenizer(path, vocab_size):
    """Returns (pieces as bytes, scores, max_token_length) of a llama2.c tokenizer.bin."""
    with open(path, "rb") as f:
        raw = f.read()
    (max_len,) = struct.unpack_from("<i", raw, 0)
    off = 4
    pieces, scores = [], []
    for _ in range(vocab_size):
        score, n = struct.unpack_from("<fi", raw, off)
        off += 8
        pieces.append(raw[off:off + n])
        scores.append(score)
        off += n
    if off != len(raw):
        raise ValueError(f"{path}: {len(raw) - off} bytes left after {vocab_size} tokens")
    return pieces, scores, max_len


def encode(text, pieces, scores):
    """run.c's encode(text, bos=0, eos=0): ids of `text` without BOS/EOS."""
    lookup = {p: i for i, p in enumerate(pieces)}
    ids = []
    if text:
        ids.append(lookup[b" "])  # the dummy prefix
    for ch in text:
        b = ch.encode("utf-8")
        if b in lookup:
            ids.append(lookup[b])
        else:
            ids.extend(x + 3 for x in b)  # byte fallback: <0x00>..<0xFF> are ids 3..258
    while True:
        best, best_id, best_i = -1e10, -1, -1
        for i in range(len(ids) - 1):
            j = lookup.get(pieces[ids[i]] + pieces[ids[i + 1]])
            if j is not None and scores[j] > best:
                best, best_id, best_i = scores[j], j, i
        if best_i == -1:
            return ids
        ids[best_i:best_i + 2] = [best_id]


def decode_piece(prev, tok, pieces):
    """run.c's decode: the text of `tok` after `prev` (the leading space dropped after BOS, <0xXX> as the byte)."""
    p = pieces[tok]
    if prev == 1 and p.startswith(b" "):
        p = p[1:]
    if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
        p = bytes([int(p[3:5], 16)])
    return p


class Llama2cRunner:
    """run.c's forward(): one token at a time, interleaved RoPE pairs, its own key/value cache. Float32 like run.c."""

    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        d, L, kv, S = cfg["dim"], cfg["n_layers"], cfg["n_kv_heads"], cfg["seq_len"]
        dh = d // cfg["n_heads"]
        self.key_cache = torch.zeros(L, S, kv * dh)
        self.value_cache = torch.zeros(L, S, kv * dh)

    @staticmethod
    def rmsnorm(x, weight):
        ss = (x * x).mean() + 1e-5
        return weight * (x / torch.sqrt(ss))

    def forward(self, token, pos):
        c, w = self.cfg, self.w
        d, h, kvh = c["dim"], c["n_heads"], c["n_kv_heads"]
        dh = d // h
        kv_mul = h // kvh
        x = w["tok_emb"][token].clone()
        for l in range(c["n_layers"]):
            xb = self.rmsnorm(x, w["rms_att"][l])
            q = w["wq"][l] @ xb
            k = w["wk"][l] @ xb
            v = w["wv"][l] @ xb
            for i in range(0, d, 2):
                freq = 1.0 / (10000.0 ** ((i % dh) / dh))
                fcr, fci = math.cos(pos * freq), math.sin(pos * freq)
                for vec in ((q, k) if i < kvh * dh else (q,)):
                    v0, v1 = vec[i].item(), vec[i + 1].item()
                    vec[i] = v0 * fcr - v1 * fci
                    vec[i + 1] = v0 * fci + v1 * fcr
            self.key_cache[l, pos] = k
            self.value_cache[l, pos] = v
            out = torch.zeros(d)
            for hh in range(h):
                kvo = (hh // kv_mul) * dh
                qh = q[hh * dh:(hh + 1) * dh]
                keys = self.key_cache[l, :pos + 1, kvo:kvo + dh]
                att = torch.softmax(keys @ qh / math.sqrt(dh), dim=0)
                out[hh * dh:(hh + 1) * dh] = att @ self.value_cache[l, :pos + 1, kvo:kvo + dh]
            x = x + w["wo"][l] @ out
            xb = self.rmsnorm(x, w["rms_ffn"][l])
            hb = torch.nn.functional.silu(w["w1"][l] @ xb) * (w["w3"][l] @ xb)
            x = x + w["w2"][l] @ hb
        x = self.rmsnorm(x, w["rms_final"])
        return w.get("wcls", w["tok_emb"]) @ x


def greedy(cfg, w, pieces, steps, bos=1):
    """run.c's generate() at temperature 0: ids after BOS (stopping at BOS, as run.c does) and their text."""
    r = Llama2cRunner(cfg, w)
    tok, out = bos, []
    for pos in range(steps):
        nxt = int(torch.argmax(r.forward(tok, pos)))
        if nxt == bos:
            break
        out.append(nxt)
        tok = nxt
    text = b"".join(decode_piece(p, t, pieces) for p, t in zip([bos] + out, out))
    return out, text.decode("utf-8", errors="replace")

"""Maintainer test of the myopic-descent training code (run: /usr/bin/python3 -m unittest tools/py/test_myopic.py).

On a toy batch, the gradient of a late position's loss with respect to an earlier position's residual stream must be
exactly zero in myopic mode and non-zero in vanilla mode, while the forward pass is identical in both modes."""
import os
import sys
import unittest

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_model import GPT2LMHeadModel  # noqa: E402

CFG = dict(vocab_size=97, n_positions=16, n_embd=32, n_layer=3, n_head=4)


def grads_to_resid(model, layer, late):
    """d loss(late) / d resid_pre[layer] at every position, via a hook that makes resid_pre a leaf."""
    torch.manual_seed(1)
    ids = torch.randint(0, CFG["vocab_size"], (2, 10))
    pos = torch.arange(10).expand(2, 10)
    tr = model.transformer
    x = tr.wte(ids) + tr.wpe(pos)
    for blk in tr.h[:layer]:
        x, _ = blk(x)
    leaf = x.detach().requires_grad_(True)
    h = leaf
    for blk in tr.h[layer:]:
        h, _ = blk(h)
    logits = model.lm_head(tr.ln_f(h))
    loss = F.cross_entropy(logits[:, late], ids[:, (late + 1) % 10])
    loss.backward()
    return leaf.grad, logits.detach()


class MyopicDescentTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.model = GPT2LMHeadModel(CFG)
        self.model.eval()

    def test_gradient_of_late_loss_to_earlier_positions_is_zero_only_in_myopic_mode(self):
        for layer in (0, 1, 2):
            self.model.set_mode(myopic=False)
            g_vanilla, out_vanilla = grads_to_resid(self.model, layer, late=8)
            self.model.set_mode(myopic=True)
            g_myopic, out_myopic = grads_to_resid(self.model, layer, late=8)
            self.assertEqual(g_myopic[:, :8].abs().max().item(), 0.0, f"layer {layer}: myopic gradient leaks to j < i")
            self.assertGreater(g_vanilla[:, :8].abs().max().item(), 1e-6, f"layer {layer}: vanilla gradient should reach j < i")
            # The position's own column keeps its gradient in both modes.
            self.assertGreater(g_myopic[:, 8].abs().max().item(), 1e-6)
            # Myopia changes gradients only: the forward pass is the same computation.
            self.assertLess((out_vanilla - out_myopic).abs().max().item(), 1e-5)


    def test_fused_myopic_path_has_the_same_values_and_gradients_as_the_explicit_one(self):
        torch.manual_seed(3)
        model = GPT2LMHeadModel(dict(CFG, attn_pdrop=0.0)).double()
        model.train()
        ids = torch.randint(0, CFG["vocab_size"], (3, 12))
        pos = torch.arange(12).expand(3, 12)
        results = []
        for fast in (False, True):
            model.set_mode(myopic=True, fast=fast)
            model.zero_grad()
            logits, _ = model(ids, position_ids=pos)
            F.cross_entropy(logits[:, :-1].reshape(-1, CFG["vocab_size"]), ids[:, 1:].reshape(-1)).backward()
            results.append((logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
        (out_a, g_a), (out_b, g_b) = results
        self.assertLess((out_a - out_b).abs().max().item(), 1e-10)
        for name in g_a:
            self.assertLess((g_a[name] - g_b[name]).abs().max().item(), 1e-8, name)
        # And the fused vanilla path differs from both in its gradients (the test would pass vacuously otherwise).
        model.set_mode(myopic=False, fast=True)
        model.zero_grad()
        logits, _ = model(ids, position_ids=pos)
        F.cross_entropy(logits[:, :-1].reshape(-1, CFG["vocab_size"]), ids[:, 1:].reshape(-1)).backward()
        diff = max((p.grad - g_a[n]).abs().max().item() for n, p in model.named_parameters())
        self.assertGreater(diff, 1e-6)


if __name__ == "__main__":
    unittest.main()

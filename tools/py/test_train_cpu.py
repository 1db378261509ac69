"""Maintainer test of tools/py/train_cpu.py (run: /usr/bin/python3 -m unittest tools/py/test_train_cpu.py).

A run stopped and resumed from its checkpoint ends with exactly the weights and optimiser state of a run that was
never stopped (same batches, same RNG, same schedule); the curriculum changes window length on its step; random
repeated spans stay inside a small vocabulary; the repeat test's ids fit the vocabulary."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train_cpu import CURRICULUM, stage_at  # noqa: E402
from train_v2 import REPEAT, Batches, repeat_rows, source_weights  # noqa: E402


def make_corpus(folder, vocab=2048, n=60000, seed=0):
    """A tiny corpus in the precache-lens.corpus/1 layout (two sources), <|endoftext|> = vocab - 1."""
    import hashlib
    rng = np.random.default_rng(seed)
    train = rng.integers(0, vocab - 1, n).astype(np.uint16)
    val = rng.integers(0, vocab - 1, 3000).astype(np.uint16)
    os.makedirs(os.path.join(folder, "val"), exist_ok=True)
    train.tofile(os.path.join(folder, "train.bin"))
    val.tofile(os.path.join(folder, "val", "a.bin"))
    files = {}
    for rel in ("train.bin", "val/a.bin"):
        with open(os.path.join(folder, rel), "rb") as f:
            b = f.read()
        files[rel] = {"tokens": len(b) // 2, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    man = {"format": "precache-lens.corpus/1", "eot": vocab - 1, "files": files,
           "sources": [{"info": {"name": "a"}, "valFile": "val/a.bin", "trainRange": [0, n // 2]},
                       {"info": {"name": "b"}, "valFile": "val/a.bin", "trainRange": [n // 2, n]}]}
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(man, f)


def train(data, out, *extra):
    cmd = [sys.executable, os.path.join(HERE, "train_cpu.py"), "--data", data, "--out", out, "--tiny",
           "--total-steps", "10", "--eval-every", "4", "--eval-windows", "2", "--threads", "1", "--source-shares", "",
           *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return torch.load(os.path.join(out, "ckpt.pt"))


class TrainCpuTest(unittest.TestCase):
    def test_resumed_run_equals_uninterrupted_run(self):
        with tempfile.TemporaryDirectory() as t:
            data = os.path.join(t, "corpus")
            make_corpus(data)
            a = train(data, os.path.join(t, "a"))
            train(data, os.path.join(t, "b"), "--stop-after", "3")  # inside the first curriculum stage
            b = train(data, os.path.join(t, "b"))
            self.assertEqual(a["state"]["step"], 10)
            self.assertEqual(b["state"]["step"], 10)
            for n in ("vanilla", "myopic"):
                for k, v in a["models"][n].items():
                    self.assertTrue(torch.equal(v, b["models"][n][k]), f"{n}.{k} differs after resuming")
                sa, sb = a["opts"][n]["state"], b["opts"][n]["state"]
                for i in sa:
                    self.assertTrue(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]))
            self.assertEqual([h["vanilla_val"] for h in a["state"]["history"]],
                             [h["vanilla_val"] for h in b["state"]["history"]])
            # Twins differ only in the attention backward pass: after training their weights differ.
            self.assertFalse(torch.equal(a["models"]["vanilla"]["transformer.h.0.attn.c_attn.weight"],
                                         a["models"]["myopic"]["transformer.h.0.attn.c_attn.weight"]))

    def test_parallel_twins_equal_one_after_the_other(self):
        with tempfile.TemporaryDirectory() as t:
            data = os.path.join(t, "corpus")
            make_corpus(data)
            a = train(data, os.path.join(t, "a"))
            b = train(data, os.path.join(t, "b"), "--parallel-twins")
            for n in ("vanilla", "myopic"):
                for k, v in a["models"][n].items():
                    self.assertTrue(torch.equal(v, b["models"][n][k]), f"{n}.{k} differs with --parallel-twins")

    def test_init_from_cuts_the_vocabulary_by_token_string(self):
        from gpt2_model import GPT2LMHeadModel
        from train_cpu import init_from_onnx, token_map
        from train_gpt2 import export_onnx
        with tempfile.TemporaryDirectory() as t:
            cfg = dict(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4, layer_norm_epsilon=1e-5)
            torch.manual_seed(0)
            old = GPT2LMHeadModel(cfg).eval()
            with torch.no_grad():  # distinct values everywhere (the exporter merges equal initializers, as a trained model has none)
                for q in old.parameters():
                    q.normal_(0, 0.1)
            os.makedirs(os.path.join(t, "old"))
            export_onnx(old, os.path.join(t, "old", "model.onnx"))
            def tok(path, vocab, added):
                with open(path, "w") as f:
                    json.dump({"model": {"vocab": vocab}, "added_tokens": added}, f)
            # The old vocabulary: 299 tokens and <|endoftext|> = 299; the new one keeps 99 of them in another order.
            tok(os.path.join(t, "old.json"), {f"t{i}": i for i in range(299)}, [{"id": 299, "content": "<|endoftext|>"}])
            keep = [(7 * i) % 299 for i in range(99)]
            tok(os.path.join(t, "new.json"), {f"t{k}": i for i, k in enumerate(keep)}, [{"id": 99, "content": "<|endoftext|>"}])
            ids = token_map(os.path.join(t, "new.json"), os.path.join(t, "old.json"))
            self.assertEqual(list(ids), keep + [299])
            new = GPT2LMHeadModel({**cfg, "vocab_size": 100, "n_positions": 32})
            init_from_onnx(new, os.path.join(t, "old", "model.onnx"), ids)
            sd_old, sd_new = old.state_dict(), new.state_dict()
            self.assertTrue(torch.equal(sd_new["transformer.wte.weight"], sd_old["transformer.wte.weight"][ids]))
            self.assertTrue(torch.equal(sd_new["lm_head.weight"], sd_new["transformer.wte.weight"]))
            self.assertTrue(torch.equal(sd_new["transformer.wpe.weight"], sd_old["transformer.wpe.weight"][:32]))
            self.assertTrue(torch.equal(sd_new["transformer.h.1.mlp.c_fc.weight"], sd_old["transformer.h.1.mlp.c_fc.weight"]))
            # Same weights, same logits on the kept tokens.
            x = torch.tensor([[3, 50, 98, 99]])
            with torch.no_grad():
                pos = torch.arange(4).unsqueeze(0)
                lo = old(torch.tensor([[int(ids[i]) for i in x[0]]]), position_ids=pos)[0][..., ids]
                ln = new(x, position_ids=pos)[0]
            self.assertTrue(torch.allclose(lo, ln, atol=1e-5))
            # A token the old vocabulary lacks, and a model of another shape, are refused by name.
            tok(os.path.join(t, "bad.json"), {"t1": 0, "zz": 1}, [])
            with self.assertRaises(SystemExit) as e:
                token_map(os.path.join(t, "bad.json"), os.path.join(t, "old.json"))
            self.assertIn("'zz'", str(e.exception))
            with self.assertRaises(SystemExit) as e:
                init_from_onnx(GPT2LMHeadModel({**cfg, "vocab_size": 100, "n_embd": 64}), os.path.join(t, "old", "model.onnx"), ids)
            self.assertIn("--n-embd", str(e.exception))

    def test_init_from_reads_an_rwkv_export_back(self):
        """rwkv_export.py transforms the weights (transposed projections, w = exp(-exp(decay)), per-head shapes);
        --init-from undoes that: the loaded model's logits equal the exported one's, and the graph exported again
        from it has the same initializers."""
        from onnx import numpy_helper
        from rwkv_export import build_graph, export_dir
        from train_cpu import RwkvLM, init_from_onnx
        cfg = dict(vocab_size=100, n_layer=2, n_embd=32, n_head=2, ctx=64)
        torch.manual_seed(0)
        old = RwkvLM(cfg, myopic=False).eval()
        with torch.no_grad():
            for q in old.parameters():
                q.add_(torch.randn_like(q) * 0.05)
        with tempfile.TemporaryDirectory() as t:
            export_dir(old.rwkv, t)
            graph = os.path.join(t, "onnx", "model.onnx")
            new = RwkvLM(cfg, myopic=False).eval()
            keep = np.array([(3 * i) % 100 for i in range(100)])
            init_from_onnx(new, graph, keep)
            self.assertTrue(torch.equal(new.rwkv.emb.weight, old.rwkv.emb.weight[keep]))
            for k, v in old.rwkv.state_dict().items():
                if k != "emb.weight":
                    self.assertTrue(torch.allclose(new.rwkv.state_dict()[k], v, atol=1e-5, rtol=1e-4), k)
            x = torch.tensor([[5, 17, 42, 99, 0, 64]])
            with torch.no_grad():
                lo = old(torch.tensor([[int(keep[i]) for i in x[0]]]))[0][..., keep]
                ln = new(x)[0]
            self.assertTrue(torch.allclose(lo, ln, atol=1e-5))
            init_from_onnx(new, graph, np.arange(100))
            again = {i.name: numpy_helper.to_array(i) for i in build_graph(new.rwkv).graph.initializer}
            import onnx
            orig = {i.name: numpy_helper.to_array(i) for i in onnx.load(graph).graph.initializer}
            self.assertEqual(set(orig), set(again))
            for k in orig:
                self.assertTrue(np.allclose(orig[k], again[k], atol=1e-6, rtol=1e-5), k)
            with self.assertRaises(SystemExit) as e:
                init_from_onnx(RwkvLM({**cfg, "n_layer": 3}, myopic=False), graph, np.arange(100))
            self.assertIn("l2.ln1.w", str(e.exception))

    def test_rwkv_twins_resume_exactly(self):
        with tempfile.TemporaryDirectory() as t:
            data = os.path.join(t, "corpus")
            make_corpus(data)
            a = train(data, os.path.join(t, "a"), "--arch", "rwkv")
            train(data, os.path.join(t, "b"), "--arch", "rwkv", "--stop-after", "5")
            b = train(data, os.path.join(t, "b"), "--arch", "rwkv")
            for n in ("vanilla", "myopic"):
                for k, v in a["models"][n].items():
                    self.assertTrue(torch.equal(v, b["models"][n][k]), f"{n}.{k} differs after resuming")
            self.assertTrue(os.path.exists(os.path.join(t, "a", "vanilla.pt")))
            self.assertFalse(torch.equal(a["models"]["vanilla"]["rwkv.blocks.0.att.key.weight"],
                                         a["models"]["myopic"]["rwkv.blocks.0.att.key.weight"]))

    def test_resume_refuses_another_corpus(self):
        with tempfile.TemporaryDirectory() as t:
            d1, d2 = os.path.join(t, "c1"), os.path.join(t, "c2")
            make_corpus(d1, seed=1)
            make_corpus(d2, seed=2)
            out = os.path.join(t, "o")
            train(d1, out, "--stop-after", "2")
            with self.assertRaises(subprocess.CalledProcessError):
                train(d2, out)

    def test_source_shares(self):
        ranges = [("a", 0, 100), ("b", 100, 400), ("c", 400, 1000)]
        self.assertEqual(source_weights(ranges).tolist(), [100.0, 300.0, 600.0])
        w = source_weights(ranges, {"a": 0.5})
        w = (w / w.sum()).tolist()
        self.assertAlmostEqual(w[0], 0.5)
        self.assertAlmostEqual(w[1], 0.5 * 300 / 900)
        self.assertAlmostEqual(w[2], 0.5 * 600 / 900)
        with self.assertRaises(ValueError):
            source_weights(ranges, {"a": 0.7, "b": 0.6})
        train = np.concatenate([np.full(1000, 1), np.full(3000, 2)]).astype(np.uint16)
        b = Batches(train, [("a", 0, 1000), ("b", 1000, 4000)], 16, 4000, "cpu", 5, 0.0, 0.0)
        x, _ = b()
        self.assertAlmostEqual(float((x[:, 0] == 1).float().mean()), 0.25, delta=0.03)
        b.shares = {"a": 0.75}
        b.configure(16, 4000, 0.0, 0.0)
        x, _ = b()
        self.assertAlmostEqual(float((x[:, 0] == 1).float().mean()), 0.75, delta=0.03)

    def test_sigterm_checkpoints_and_resumes_exactly(self):
        import signal as sig
        import time as t_
        with tempfile.TemporaryDirectory() as t:
            data = os.path.join(t, "corpus")
            make_corpus(data)
            a = train(data, os.path.join(t, "a"), "--total-steps", "150", "--eval-every", "1000")
            out = os.path.join(t, "b")
            cmd = [sys.executable, os.path.join(HERE, "train_cpu.py"), "--data", data, "--out", out, "--tiny",
                   "--total-steps", "150", "--eval-every", "1000", "--eval-windows", "2", "--threads", "1",
                   "--source-shares", ""]
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log = os.path.join(out, "log.jsonl")
            def logged():
                if not os.path.exists(log):
                    return ""
                with open(log) as f:
                    return f.read()
            while '"step": 25,' not in logged():
                t_.sleep(0.05)
            p.send_signal(sig.SIGTERM)
            self.assertEqual(p.wait(60), 0)
            c = torch.load(os.path.join(out, "ckpt.pt"))
            self.assertGreater(c["state"]["step"], 0)
            self.assertLess(c["state"]["step"], 150)
            b = train(data, out, "--total-steps", "150", "--eval-every", "1000")
            for n in ("vanilla", "myopic"):
                for k, v in a["models"][n].items():
                    self.assertTrue(torch.equal(v, b["models"][n][k]), f"{n}.{k} differs after a SIGTERM and a resume")

    def test_curriculum_stages(self):
        self.assertEqual(stage_at(0, CURRICULUM)[1], 128)
        self.assertEqual(stage_at(CURRICULUM[1][0] - 1, CURRICULUM)[1], 128)
        self.assertEqual(stage_at(CURRICULUM[1][0], CURRICULUM)[1], CURRICULUM[1][1])
        self.assertEqual(stage_at(10 ** 6, CURRICULUM)[1], 512)

    def test_small_vocabulary_repeats_and_spans(self):
        rows = repeat_rows(8191, 8192)
        self.assertTrue(bool((rows[:, 0] == 8191).all()))
        self.assertTrue(bool(((rows[:, 1:] >= REPEAT["lo"]) & (rows[:, 1:] < 8191)).all()))
        train = np.zeros(5000, dtype=np.uint16)
        b = Batches(train, [("a", 0, 5000)], 128, 8, "cpu", 3, 1.0, 1.0, eot=300)
        x, y = b()
        self.assertLess(int(x.max()), 300)
        b.configure(64, 4, 0.5, 0.5)
        x, _ = b()
        self.assertEqual(tuple(x.shape), (4, 64))
        self.assertEqual((b.n_repeat, b.n_random), (2, 1))

    def test_learning_rate_schedules(self):
        from train_cpu import lr_at
        self.assertAlmostEqual(lr_at(0, 100, 1.0, 10, 0.1), 0.1)
        self.assertAlmostEqual(lr_at(100, 100, 1.0, 10, 0.1), 0.1)  # cosine from the warm-up's end to the floor
        self.assertLess(lr_at(50, 100, 1.0, 10, 0.1), 1.0)
        for step in (10, 40, 79):  # warm-up, stable, decay
            self.assertEqual(lr_at(step, 100, 1.0, 10, 0.1, decay_from=80), 1.0)
        self.assertAlmostEqual(lr_at(90, 100, 1.0, 10, 0.1, decay_from=80), 0.55)
        self.assertAlmostEqual(lr_at(100, 100, 1.0, 10, 0.1, decay_from=80), 0.1)

    def test_synthetic_rows(self):
        train = np.arange(20000, dtype=np.uint16) % 7000
        plain = Batches(train, [("a", 0, 20000)], 128, 8, "cpu", 5, 0.5, 0.5, eot=8191)
        again = Batches(train, [("a", 0, 20000)], 128, 8, "cpu", 5, 0.5, 0.5, eot=8191)
        again.configure(128, 8, 0.5, 0.5, 0.0)
        for _ in range(3):  # no synthetic rows: the same draws as before the option existed (checkpoints resume alike)
            (x1, y1), (x2, y2) = plain(), again()
            self.assertTrue(torch.equal(x1, x2) and torch.equal(y1, y2))
        b = Batches(train, [("a", 0, 20000)], 128, 8, "cpu", 5, 0.25, 0.5, eot=8191)
        b.configure(128, 8, 0.25, 0.5, 0.5)
        lengths = set()
        for _ in range(5):
            x, y = b()
            for r in range(4, 8):
                self.assertEqual(int(x[r, 0]), 8191)
                L = next(L for L in range(2, 65) if torch.equal(x[r, 1 + L:], x[r, 1:128 - L]))
                lengths.add(L)
                self.assertTrue(bool((y[r, :L + 1] == -100).all()), "the first copy and the wrap are not scored")
                self.assertTrue(torch.equal(y[r, L + 1:], x[r, 2:129 - L]), "each later token is the one L places back")
                self.assertTrue(bool((y[r, L + 1:] >= 0).all()), "every later copy is scored")
        self.assertIn(2, lengths, "every fourth synthetic row has period 2")
        self.assertGreater(len(lengths), 5, "pattern lengths vary from row to row")


class WkvChunkedTest(unittest.TestCase):
    """The chunked WKV sums that training uses equal the one-shot parallel form (and so the sequential recurrence the
    ONNX export is checked against): values and gradients, vanilla and myopic, a length that is not a multiple of the
    chunk, a non-zero start state."""

    def test_equals_parallel_form(self):
        from rwkv_model import wkv_chunked, wkv_parallel, wkv_sequential
        torch.manual_seed(0)
        B, H, T, K = 2, 3, 37, 4
        for myopic in (False, True):
            leaves = [torch.randn(B, H, T, K, dtype=torch.float64, requires_grad=True) for _ in range(3)]
            logw = (-torch.exp(torch.randn(H, K, dtype=torch.float64))).requires_grad_()
            u = torch.randn(H, K, dtype=torch.float64, requires_grad=True)
            s0 = torch.randn(B, H, K, K, dtype=torch.float64)
            grads, outs = [], []
            for fn in (wkv_parallel, lambda *a, **kw: wkv_chunked(*a, **kw, chunk=8)):
                out, s_end = fn(*leaves, logw, u, s0, myopic=myopic)
                g = torch.autograd.grad((out * torch.cos(out)).sum(), leaves + [logw, u])
                outs.append((out.detach(), s_end.detach()))
                grads.append(g)
            torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(outs[1][1], outs[0][1], rtol=1e-10, atol=1e-10)
            for a, b in zip(grads[1], grads[0]):
                torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
            if myopic:  # no gradient reaches an earlier position's k or v: the last position's loss moves only its own
                out, _ = wkv_chunked(*leaves, logw, u, s0, myopic=True, chunk=8)
                gk = torch.autograd.grad(out[:, :, -1].sum(), leaves[1])[0]
                self.assertEqual(float(gk[:, :, :-1].abs().sum()), 0.0)
        seq, _ = wkv_sequential(*(x.detach() for x in leaves), torch.exp(logw.detach()), u.detach(), s0)
        out, _ = wkv_chunked(*(x.detach() for x in leaves), logw.detach(), u.detach(), s0, chunk=8)
        torch.testing.assert_close(out, seq, rtol=1e-10, atol=1e-10)


if __name__ == "__main__":
    unittest.main()

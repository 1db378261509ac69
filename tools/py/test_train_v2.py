"""Maintainer test of tools/py/train_v2.py's data path (run: /usr/bin/python3 -m unittest tools/py/test_train_v2.py).

The repeat test uses the engine's exact random sequences; training windows stay inside one source; rows with a
repeated span hold the copy, and a random span's first copy is left out of the loss."""
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_v2 import EOT, REPEAT, Batches, mulberry32, repeat_rows, windows  # noqa: E402


class TrainV2DataTest(unittest.TestCase):
    def test_mulberry32_matches_shared_random_ts(self):
        r = mulberry32(1234)
        # npx tsx -e "import { mulberry32 } from './shared/random.ts'; const r = mulberry32(1234); console.log([r(), r(), r()])"
        self.assertEqual([r(), r(), r()], [0.07329497812315822, 0.7034119898453355, 0.9028560190927237])

    def test_repeat_rows_are_bos_then_a_sequence_twice(self):
        rows = repeat_rows()
        L = REPEAT["length"]
        self.assertEqual(tuple(rows.shape), (REPEAT["sequences"], 1 + 2 * L))
        self.assertTrue(bool((rows[:, 0] == EOT).all()))
        self.assertTrue(torch.equal(rows[:, 1:1 + L], rows[:, 1 + L:]))
        self.assertTrue(bool(((rows[:, 1:] >= REPEAT["lo"]) & (rows[:, 1:] < REPEAT["hi"])).all()))

    def test_windows_are_those_of_lm_eval(self):
        x, y = windows(np.arange(10, dtype=np.uint16), 4)
        self.assertEqual(x.tolist(), [[0, 1, 2, 3], [4, 5, 6, 7]])
        self.assertEqual(y.tolist(), [[1, 2, 3, 4], [5, 6, 7, 8]])

    def test_windows_stay_inside_one_source(self):
        # Source a holds ids 1000..1999, source b ids 5000..6999: a window mixing them would hold both ranges.
        train = np.concatenate([np.arange(1000, 2000), np.arange(5000, 7000)]).astype(np.uint16)
        b = Batches(train, [("a", 0, 1000), ("b", 1000, 3000)], ctx=64, batch=256, device="cpu", seed=1,
                    repeat_share=0.0, repeat_random=0.0)
        x, y = b()
        lo = x.min(1).values
        hi = x.max(1).values
        self.assertTrue(bool((((hi < 2000)) | (lo >= 5000)).all()))
        self.assertTrue(torch.equal(x[:, 1:], y[:, :-1]))
        self.assertGreater(int((lo >= 5000).sum()), int((hi < 2000).sum()))  # b has twice a's tokens

    def test_repeated_spans_are_copies_and_random_first_copies_are_not_scored(self):
        train = np.arange(0, 20000).astype(np.uint16)
        b = Batches(train, [("a", 0, 20000)], ctx=128, batch=40, device="cpu", seed=2, repeat_share=0.25,
                    repeat_random=0.5)
        self.assertEqual((b.n_repeat, b.n_random), (10, 5))
        x, y = b()
        for r in range(b.n_repeat):
            # The source is 0, 1, 2, ... with no id twice: a repeated span shows up as ids that occur twice.
            row = torch.cat([x[r], y[r, -1:]]).tolist()
            self.assertGreaterEqual(len(row) - len(set(row)), 15, f"row {r} holds no repeated span")
        ignored = (y == -100).sum(1)
        self.assertTrue(bool((ignored[:b.n_random] >= 15).all()))
        self.assertTrue(bool((ignored[b.n_random:] == 0).all()))
        # Rows without a span are plain consecutive text.
        for r in range(b.n_repeat, 40):
            self.assertTrue(torch.equal(x[r, 1:] - x[r, :-1], torch.ones(127, dtype=x.dtype)))


if __name__ == "__main__":
    unittest.main()

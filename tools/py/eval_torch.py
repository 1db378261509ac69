"""Cross-check of scripts/eval-model.ts in PyTorch float32 on CPU (maintainer tool): next-token loss of trained
weights (runs/*/<name>.npz) on token files, in the same non-overlapping 256-token windows (train_gpt2.val_windows).

  /usr/bin/python3 tools/py/eval_torch.py runs/gpu2/vanilla.npz tests/fixtures/val-slice.bin data/val.bin
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_gpt2 import DEFAULT_CFG, load_model_from_npz, load_tokens, val_windows  # noqa: E402


def main():
    weights, files = sys.argv[1], sys.argv[2:]
    cfg = dict(DEFAULT_CFG)
    model = load_model_from_npz(weights, cfg)
    ctx = cfg["n_positions"]
    for path in files:
        vx, vy = val_windows(load_tokens(path), ctx)
        tot, cnt, t0 = 0.0, 0, time.time()
        with torch.no_grad():
            for i in range(0, vx.size(0), 16):
                x, y = vx[i:i + 16], vy[i:i + 16]
                logits, _ = model(x, position_ids=torch.arange(ctx).expand_as(x))
                tot += F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
                cnt += y.numel()
        print(f"{weights} {path}: {tot / cnt:.6f} nats/token over {cnt} tokens ({vx.size(0)} windows), "
              f"torch {torch.__version__} fp32, {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()

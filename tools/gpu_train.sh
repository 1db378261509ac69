#!/bin/bash
# One device call: tiny HF fixtures (CPU, background) + default model and myopic twin (GPU, lockstep).
# Usage on the GPU machine: bash tools/gpu_train.sh SECONDS ; results land in $OUT.
set -u
BUDGET=${1:-330}; shift; EXTRA="$@"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv > $OUT/train.log 2>&1
[ -n "${SKIP_HF:-}" ] || (CUDA_VISIBLE_DEVICES= python3 tools/py/export_hf_fixtures.py /tmp/hf > /tmp/hf.log 2>&1; tar czf $OUT/hf_fixtures.tgz -C /tmp hf hf.log 2>/dev/null || cp /tmp/hf.log $OUT/) &
python3 tools/py/train_gpt2.py train --data data --out /tmp/run --twins --time-budget $BUDGET \
  --batch 64 --lr 1.5e-3 --warmup 200 --eval-every 250 --max-tokens 60000000 $EXTRA >> $OUT/train.log 2>&1
wait
cp /tmp/run/summary.json $OUT/ 2>/dev/null
for n in vanilla myopic; do
  [ -f /tmp/run/$n.npz ] && split -b 15000000 -d /tmp/run/$n.npz $OUT/$n.npz.part
done
ls -la $OUT; tail -5 $OUT/train.log

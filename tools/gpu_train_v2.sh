#!/bin/bash
# The one device call of issue 17: trains the default model and its myopic twin together (tools/py/train_v2.py) on
# data/corpus (carried with the working tree), then brings back both models' weights, the logs and the PyTorch
# evaluation through $OUT in at most 7 files of at most 15 MiB. See tools/README-training.md.
#
#   device run, carry ["data/corpus"], timeout_s 590:   bash tools/gpu_train_v2.sh
#   environment: BUDGET (seconds of training loop, evaluations included; default 400), EXTRA (more train_v2 flags),
#                PYTHON (default python3)
#   CPU rehearsal (no GPU):  PYTHON=/usr/bin/python3 OUT=/tmp/out BUDGET=60 EXTRA="--tiny --batch 4 --eval-every 10" bash tools/gpu_train_v2.sh
#
# $OUT afterwards (8 files): train.log (plain, also inside results.tgz), results.tgz (cfg.json, summary.json,
# history.json, train.log, env.txt), vanilla.npz.part00-01 and myopic.npz.part00-01 (float16 weights, 15 MiB parts),
# SHA256SUMS (of the whole .npz files and of results.tgz), export.log. Reassemble with tools/unpack_v2_results.sh.
set -u -o pipefail
: "${OUT:?set OUT to the folder for the results}"
BUDGET=${BUDGET:-400}
PY=${PYTHON:-python3}
EXTRA=${EXTRA:-}
RUN=${RUN:-/tmp/run_v2}
export PYTHONUNBUFFERED=1
T0=$(date +%s)
LOG=$OUT/train.log
mkdir -p "$RUN"
rm -f "$RUN"/*.npz
say() { echo "[gpu_train_v2 $(( $(date +%s) - T0 ))s] $*" | tee -a "$LOG"; }

# 1. Environment: fail in seconds, not after the budget, when something the run needs is missing.
{
  echo "host $(hostname) $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || echo "nvidia-smi: none"
  "$PY" -c 'import sys, torch, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available(), "numpy", numpy.__version__)'
  "$PY" -c 'import onnx; print("onnx", onnx.__version__)' 2>&1 || echo "onnx: missing (export check will be skipped)"
  du -sh data/corpus 2>&1
} > "$RUN/env.txt" 2>&1
cat "$RUN/env.txt" >> "$LOG"
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then say "FATAL: python3 with torch and numpy is needed"; exit 2; fi
if [ ! -f data/corpus/manifest.json ]; then say "FATAL: data/corpus/manifest.json missing: build it with tools/prepare-corpus.ts and carry data/corpus"; exit 2; fi

# 2. Training, killed at BUDGET + 150 s at the latest (calibration, final evaluation and the killed case included);
#    the best checkpoint of each model is on disk from its first evaluation on, so even a killed run leaves weights.
say "training: budget ${BUDGET}s, extra flags: ${EXTRA:-none}"
timeout --signal=TERM --kill-after=10 $((BUDGET + 150)) \
  "$PY" tools/py/train_v2.py --data data/corpus --out "$RUN" --time-budget "$BUDGET" $EXTRA >> "$LOG" 2>&1
RC=$?
say "training exit code $RC"

# 3. Results: weights in parts, small files in one archive, checksums; written before anything optional.
pack() {
  rm -f "$OUT"/*.part?? "$OUT"/results.tgz "$OUT"/SHA256SUMS
  cp "$LOG" "$RUN/train.log"
  (cd "$RUN" && tar czf "$OUT/results.tgz" $(ls cfg.json summary.json history.json train.log env.txt 2>/dev/null))
  : > "$OUT/SHA256SUMS"
  for n in vanilla myopic; do
    if [ -f "$RUN/$n.npz" ]; then
      split -b 15728640 -d -a 2 "$RUN/$n.npz" "$OUT/$n.npz.part"
      (cd "$RUN" && sha256sum "$n.npz") >> "$OUT/SHA256SUMS"
    else
      say "WARNING: no $n.npz"
    fi
  done
  (cd "$OUT" && sha256sum results.tgz) >> "$OUT/SHA256SUMS"
  local files bytes
  files=$(ls "$OUT" | wc -l); bytes=$(du -cb "$OUT"/* | tail -1 | cut -f1)
  [ "$files" -le 7 ] && [ "$bytes" -le 66060288 ] || say "WARNING: $files files, $bytes bytes in OUT: over what one call returns (7 files + export.log, 63 MiB)"
}
pack
say "packed: $(ls "$OUT" | tr '\n' ' ')"

# 4. Optional, only with time to spare: export both models to ONNX on this machine as a check of the exporter under
#    this torch. The graphs stay there (the bundled ones are exported on the CPU side, see the README); only
#    $OUT/export.log comes back, and nothing packed above is touched again, so a kill here loses nothing.
if [ -f "$RUN/vanilla.npz" ] && [ $(( $(date +%s) - T0 )) -lt $((BUDGET + 100)) ] && "$PY" -c 'import onnx' 2>/dev/null; then
  for n in vanilla myopic; do
    timeout 40 "$PY" tools/py/train_gpt2.py export --weights "$RUN/$n.npz" --cfg "$RUN/cfg.json" --out "$RUN/export/$n" --past >> "$OUT/export.log" 2>&1 \
      && ls -l "$RUN/export/$n/onnx/model.onnx" >> "$OUT/export.log" 2>&1 || echo "export $n failed or timed out" >> "$OUT/export.log"
  done
else
  echo "export check skipped (no weights, no onnx, or too little time left)" > "$OUT/export.log"
fi
say "done in $(( $(date +%s) - T0 ))s; training exit code $RC"
ls -l "$OUT"
tail -4 "$LOG"
exit $RC

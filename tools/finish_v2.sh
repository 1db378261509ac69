#!/bin/bash
# CPU side of issue 17's training run: from the files tools/gpu_train_v2.sh brought back to two model directories in
# Hugging Face layout, checked: unpack (sha256), export to ONNX (opset 14, past_key_values), tokenizer files, the
# PyTorch reference activations, the engine's hooks against them (1e-4), and the engine's evaluation (eval.json).
#
#   bash tools/finish_v2.sh <device files folder> <destination prefix> [eval-model flags...]
#   e.g. bash tools/finish_v2.sh /work/.device/<...> runs/v2/models/precache-gpt2-12l --max-windows-per-source 40
#
# Writes <prefix> and <prefix>-myopic (each: config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx,
# eval.json, golden.json) and runs/v2/{vanilla,myopic}.npz, summary.json, history.json, train.log. Nothing in models/
# is touched unless the prefix points there.
set -eu -o pipefail
SRC=${1:?usage: tools/finish_v2.sh <device files folder> <destination prefix> [eval-model flags...]}
PREFIX=${2:?destination prefix, e.g. runs/v2/models/precache-gpt2-12l}
shift 2
PY=${PYTHON:-/usr/bin/python3}
RUNS=${RUNS:-runs/v2}
CORPUS=${CORPUS:-data/corpus}
bash tools/unpack_v2_results.sh "$SRC" "$RUNS"
for n in vanilla myopic; do
  dir=$PREFIX; [ "$n" = myopic ] && dir=$PREFIX-myopic
  mkdir -p "$dir"
  "$PY" tools/py/train_gpt2.py export --weights "$RUNS/$n.npz" --cfg "$RUNS/cfg.json" --out "$dir" --past
  node tools/make-gpt2-tokenizer.mjs "$dir" > /dev/null
  bytes=$(stat -c %s "$dir/onnx/model.onnx")
  echo "$dir/onnx/model.onnx: $bytes bytes"
  [ "$bytes" -le 100000000 ] || { echo "over 100 MB: store float16 initializers (see tools/README-training.md)" >&2; exit 1; }
  "$PY" tools/py/model_golden.py --weights "$RUNS/$n.npz" --cfg "$RUNS/cfg.json" --out "$dir/golden.json"
  npx tsx tools/check-model-hooks.ts "$dir" "$dir/golden.json"
  npx tsx scripts/eval-model.ts --model "$dir" --corpus "$CORPUS" --skip-val --json "$dir/eval.json" "$@"
done

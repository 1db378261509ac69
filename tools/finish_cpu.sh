#!/bin/bash
# From train_cpu.py's checkpoint folder to two checked model directories (issue 21): ONNX export, the 8,192-token
# tokenizer, the PyTorch reference activations and the engine's hooks against them (1e-4, GPT-2 layout), and the
# engine's evaluation on the corpus (per-source nats/token and nats/byte, repeat test) in eval.json.
#
#   bash tools/finish_cpu.sh gpt2 ~/train/gpt2-8k runs/cpu/precache-gpt2-6l [eval-model flags...]
#   bash tools/finish_cpu.sh rwkv ~/train/rwkv-8k runs/cpu/precache-rwkv-6l [eval-model flags...]
#
# Writes <prefix> and <prefix>-myopic; nothing in models/ is touched unless the prefix points there.
set -eu -o pipefail
ARCH=${1:?usage: tools/finish_cpu.sh gpt2|rwkv <checkpoint folder> <destination prefix> [eval-model flags...]}
SRC=${2:?checkpoint folder of tools/py/train_cpu.py}
PREFIX=${3:?destination prefix}
shift 3
PY=${PYTHON:-/usr/bin/python3}
CORPUS=${CORPUS:-data/corpus8k}
VOCAB=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$SRC/cfg.json")
for n in vanilla myopic; do
  dir=$PREFIX; [ "$n" = myopic ] && dir=$PREFIX-myopic
  mkdir -p "$dir"
  if [ "$ARCH" = gpt2 ]; then
    "$PY" tools/py/train_gpt2.py export --weights "$SRC/$n.npz" --cfg "$SRC/cfg.json" --out "$dir" --past
  else
    "$PY" tools/py/rwkv_export.py --weights "$SRC/$n.pt" --out "$dir"
  fi
  node tools/make-gpt2-tokenizer.mjs "$dir" --vocab-size "$VOCAB" > /dev/null
  bytes=$(stat -c %s "$dir/onnx/model.onnx")
  echo "$dir/onnx/model.onnx: $bytes bytes"
  [ "$bytes" -le 40000000 ] || { echo "over 40 MB (issue 21's limit)" >&2; exit 1; }
  if [ "$ARCH" = gpt2 ]; then
    "$PY" tools/py/model_golden.py --weights "$SRC/$n.npz" --cfg "$SRC/cfg.json" --out "$dir/golden.json"
    npx tsx tools/check-model-hooks.ts "$dir" "$dir/golden.json"
  fi
  npx tsx scripts/eval-model.ts --model "$dir" --corpus "$CORPUS" --slice "${SLICE:-tests/fixtures/val-slice-8k.bin}" --skip-val --json "$dir/eval.json" "$@"
done

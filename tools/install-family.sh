#!/bin/bash
# From a train_cpu.py run to a bundled pair in models/ (issue 21): the checkpoint's weights (ckpt_weights.py), the
# checked export and the engine's evaluation (finish_cpu.sh), the card's prompt experiments (card-experiments.sh,
# their experiment.json kept under models/<name>/card/<set>/ so that the tests recompute cells), and both cards
# (model-card.ts). Registering the names is a separate, one-line change (server/model/registry.ts, BUNDLED_NAMES).
#
#   bash tools/install-family.sh gpt2 ~/train/gpt2-8l8k precache-gpt2-8l-8k [--count 48] [--old NAME=EVAL.json ...]
#   bash tools/install-family.sh rwkv ~/train/rwkv-4l8k precache-rwkv-4l-8k --no-experiments --note "Interim: ..."
#   bash tools/install-family.sh gpt2 ~/train/gpt2-8l8k-c2 precache-gpt2-8l-8k --continues c63b5c6   # a continued pair
#
# --no-experiments skips the card experiments (an interim model's card says so); --note puts a bold line under each
# card's title; --continues COMMIT: the run continued the pair as bundled at that commit (model-card.ts); --eval-ctx N:
# the held-out evaluation reads windows of N tokens instead of the config's context (an RWKV config says 1,024; 256
# compares it with the GPT-2 pair on the same windows).
# Work folders: runs/weights/<name>, runs/cpu/<name>{,-myopic}, runs/cards/<name> (git-ignored). Needs data/corpus8k
# (tools/README-training.md) for the per-source evaluation.
set -eu -o pipefail
ARCH=${1:?usage: tools/install-family.sh gpt2|rwkv <train_cpu.py --out folder> <model name> [--count N] [--old NAME=FILE ...]}
TRAIN=${2:?train_cpu.py --out folder}
NAME=${3:?model name (folder under models/)}
shift 3
COUNT=48
OLD=()
CARD=()
EXPERIMENTS=1
EVAL=()
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT=${2:?--count N}; shift 2 ;;
    --old) OLD+=(--old "${2:?--old NAME=FILE}"); shift 2 ;;
    --note) CARD+=(--note "${2:?--note TEXT}"); shift 2 ;;
    --continues) CARD+=(--continues "${2:?--continues COMMIT}"); shift 2 ;;
    --no-experiments) EXPERIMENTS=0; shift ;;
    --eval-ctx) EVAL+=(--ctx "${2:?--eval-ctx N}"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-/usr/bin/python3}
W=runs/weights/$NAME
"$PY" tools/py/ckpt_weights.py "$TRAIN" "$W"
bash tools/finish_cpu.sh "$ARCH" "$W" "runs/cpu/$NAME" "${EVAL[@]}"
[ "$EXPERIMENTS" = 1 ] && bash tools/card-experiments.sh "runs/cpu/$NAME" "runs/cards/$NAME" --count "$COUNT"
for dir in "$NAME" "$NAME-myopic"; do
  rm -rf "models/$dir"
  cp -r "runs/cpu/$dir" "models/$dir"
  rm -f "models/$dir/golden.json"  # the PyTorch reference activations: checked by finish_cpu.sh, not shipped
done
if [ "$EXPERIMENTS" = 1 ]; then
  for set in sotu-1861-1945 kjv; do
    mkdir -p "models/$NAME/card/$set"
    # The experiment names the models by their folders: as bundled, runs/cpu/<name> is models/<name>.
    cp "runs/cards/$NAME/$set/experiment.json" "models/$NAME/card/$set/experiment.json"
  done
  CARD+=(--experiments "models/$NAME/card")
else
  CARD+=(--no-experiments)
fi
for dir in "$NAME" "$NAME-myopic"; do
  npx tsx tools/model-card.ts --model "models/$dir" --arch "$ARCH" --train "$TRAIN" --weights "$W" "${CARD[@]}" "${OLD[@]}"
done

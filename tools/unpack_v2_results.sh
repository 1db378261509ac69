#!/bin/bash
# Reassembles what tools/gpu_train_v2.sh brought back: joins the weight parts, checks every sha256 of SHA256SUMS,
# unpacks results.tgz. Refuses to leave a weight file whose checksum does not match.
#
#   bash tools/unpack_v2_results.sh <folder the device files landed in> [runs/v2]
set -eu -o pipefail
SRC=${1:?usage: tools/unpack_v2_results.sh <device files folder> [destination]}
DST=${2:-runs/v2}
mkdir -p "$DST"
[ -f "$SRC/SHA256SUMS" ] || { echo "$SRC/SHA256SUMS missing" >&2; exit 1; }
for n in vanilla myopic; do
  ls "$SRC/$n.npz.part"?? > /dev/null 2>&1 || { echo "no parts of $n.npz in $SRC" >&2; exit 1; }
  cat $(ls "$SRC/$n.npz.part"?? | sort) > "$DST/$n.npz"
done
cp "$SRC/results.tgz" "$DST/"
if ! (cd "$DST" && sha256sum -c "$(cd "$SRC" && pwd)/SHA256SUMS"); then
  rm -f "$DST"/vanilla.npz "$DST"/myopic.npz
  echo "checksum mismatch: weights removed from $DST" >&2
  exit 1
fi
tar xzf "$DST/results.tgz" -C "$DST"
echo "unpacked into $DST: $(ls "$DST" | tr '\n' ' ')"

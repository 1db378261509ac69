#!/bin/bash
# The model cards' prompt experiments (issue 21): a prompt that matches the inputs and one that does not, over
# held-out inputs of two kinds, with the myopic twin, through the project's own `experiment` command.
#
#   bash tools/card-experiments.sh models/precache-gpt2-6l runs/cards/precache-gpt2-6l [--count 48]
#
# tools/card-prompts.txt holds the two prompts: P1 (State of the Union) matches the sotu-1861-1945 inputs and not the
# kjv ones, P2 (King James Bible) the other way round, so each experiment gives a matching and a mismatching prompt's
# mean benefit, their paired difference, and (with --twin) the myopia gap, each with its 95 % interval.
set -eu -o pipefail
MODEL=${1:?usage: tools/card-experiments.sh <model dir> <out dir> [--count N]}
OUT=${2:?output directory}
COUNT=48
[ "${3:-}" = --count ] && COUNT=${4:?--count N}
for set in sotu-1861-1945 kjv; do
  node bin/precache-lens.mjs experiment -m "$MODEL" --twin --prompts tools/card-prompts.txt --input-set "$set" \
    --count "$COUNT" --seed 1 --no-span-knockouts --quiet --out "$OUT/$set"
  node -e '
    const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (x) => `${x.mean.toFixed(3)} [${x.lo.toFixed(3)}, ${x.hi.toFixed(3)}]`;
    const models = e.experiment.models;
    for (const s of e.summary) console.log(`${process.argv[2]}  P${s.prompt + 1} on ${models[s.model] ?? s.model}: mean B ${f(s.meanBenefit)} (n ${s.n})`);
    for (const p of e.pairs) console.log(`${process.argv[2]}  P${p.a + 1} - P${p.b + 1} on ${models[p.model] ?? p.model}: ${f(p.meanBenefitDiff)}, p ${p.meanBenefitDiff.p}, Holm ${p.meanBenefitDiff.pHolm}`);
    for (const t of e.twins ?? []) console.log(`${process.argv[2]}  P${t.prompt + 1} myopia gap ${f(t.myopiaGap)}`);
  ' "$OUT/$set/experiment.json" "$set"
done

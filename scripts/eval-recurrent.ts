// Held-out loss and the in-context repeat test of a recurrent (RWKV) model, through the recurrent engine, with the
// windows and the repeat settings eval-model.ts uses for the GPT-2 cards.
//   npx tsx scripts/eval-recurrent.ts --model models/<bundled RWKV model> [--val a.bin,b.bin] [--max-windows N] [--json out.json]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { RecurrentModel } from '../server/engine/recurrent-model.js';
import { targetLosses } from '../shared/metrics/loss.js';
import { mulberry32 } from '../shared/random.js';
import { REPEAT, repeatRange, repeatRows } from './lib/lm-eval.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    val: { type: 'string', default: 'data/corpus/val/sotu.bin,data/corpus/val/brown.bin' },
    slice: { type: 'string', default: 'tests/fixtures/val-slice.bin' },
    window: { type: 'string', default: '256' },
    'max-windows': { type: 'string', default: '0' },
    batch: { type: 'string', default: '8' },
    json: { type: 'string' },
  },
});
if (!values.model) throw new Error('--model is required');
const W = Number(values.window);
const m = RecurrentModel.load(values.model, { threads: 2 });

function readTokens(files: string[]): Uint16Array {
  const parts = files.map((f) => {
    const b = fs.readFileSync(f);
    return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });
  const out = new Uint16Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Windows of W+1 tokens at stride W, each from the zero state, predicting its last W tokens (as eval-model.ts). */
async function evalTokens(tokens: Uint16Array, maxWindows: number) {
  const all = Math.floor((tokens.length - 1) / W);
  const nWin = maxWindows > 0 ? Math.min(all, maxWindows) : all;
  let sum = 0;
  let count = 0;
  const t0 = performance.now();
  const B = Number(values.batch);
  for (let w = 0; w < nWin; w += B) {
    const rows = Array.from({ length: Math.min(B, nWin - w) }, (_, b) => Array.from(tokens.subarray((w + b) * W, (w + b) * W + W + 1)));
    const r = await m.run({ tokens: rows.map((row) => row.slice(0, W)) });
    const V = r.logits!.dims[2];
    rows.forEach((row, b) => {
      const l = targetLosses({ data: r.logits!.data.subarray(b * W * V, (b + 1) * W * V), dims: [W, V] }, row.slice(1));
      for (const x of l) sum += x;
      count += l.length;
    });
  }
  const loss = sum / count;
  return { windows: nWin, allWindows: all, predicted: count, loss: Number(loss.toFixed(4)), lossExact: loss, perplexity: Number(Math.exp(loss).toFixed(4)), seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) };
}

const slice = await evalTokens(readTokens([values.slice!]), 0);
const valFiles = values.val!.split(',');
const val = await evalTokens(readTokens(valFiles), Number(values['max-windows']));
// In-context repeat test: BOS + seq + seq, loss on each copy (the model reads the first copy through its state).
const L = REPEAT.length;
const rows = repeatRows(m.config.vocabSize, m.config.bosTokenId ?? m.config.eosTokenId ?? 0, mulberry32(REPEAT.seed));
const rr = await m.run({ tokens: rows.map((r) => r.slice(0, -1)) });
const Vr = rr.logits!.dims[2];
const perPos = new Float64Array(2 * L);
rows.forEach((row, b) => {
  const l = targetLosses({ data: rr.logits!.data.subarray(b * 2 * L * Vr, (b + 1) * 2 * L * Vr), dims: [2 * L, Vr] }, row.slice(1));
  l.forEach((x, i) => (perPos[i] += x / REPEAT.sequences));
});
const mean = (a: number, b: number) => perPos.slice(a, b).reduce((x, y) => x + y, 0) / (b - a);
const repeat = {
  settings: `${REPEAT.sequences} sequences of ${L} ids uniform in [${repeatRange(m.config.vocabSize).lo}, ${repeatRange(m.config.vocabSize).hi}), mulberry32 seed ${REPEAT.seed}; input BOS + seq + seq`,
  firstCopy: Number(mean(0, L).toFixed(4)),
  secondCopy: Number(mean(L, 2 * L).toFixed(4)),
  difference: Number((mean(0, L) - mean(L, 2 * L)).toFixed(4)),
};
const graph = fs.readFileSync(m.md.graphPath);
const out = {
  model: m.md.name,
  graphBytes: graph.length,
  graphSha256: m.modelHash,
  engine: { runtime: 'onnxruntime-node (server/engine/recurrent-model.ts)', precision: 'fp32', threads: 2, window: W },
  slice: { file: values.slice, ...slice },
  val: { files: valFiles, ...val, subset: val.windows === val.allWindows ? 'full split' : `first ${val.windows} of ${val.allWindows} windows` },
  repeat,
};
console.log(JSON.stringify(out, null, 1));
if (values.json) fs.writeFileSync(values.json, JSON.stringify(out, null, 1) + '\n');
await m.release();

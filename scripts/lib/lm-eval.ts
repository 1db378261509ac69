// Language-model measurements through the project's ONNX engine (HookedModel): next-token cross-entropy over
// fixed windows, unigram baseline, sampling with a seeded PRNG. Used by scripts/eval-model.ts and
// tests/default-model.test.ts so that the model cards' numbers and the test's check are computed the same way.
import fs from 'node:fs';
import type { Tensor } from '../../server/engine/hooked-model.js';

/** What the measurements need of a model: a batch of token rows in, logits [B,T,V] out (HookedModel and
 * RecurrentModel both fit). */
export interface LogitsModel {
  run(req: { tokens: number[][]; logits?: boolean }): Promise<{ logits?: Tensor | null }>;
}
import { mulberry32 } from '../../shared/random.js';

/** Reads a token file: uint16 little-endian GPT-2 ids (data/{train,val}.bin, tests/fixtures/val-slice.bin). */
export function readTokenFile(file: string): Uint16Array {
  const buf = fs.readFileSync(file);
  if (buf.length % 2 !== 0) throw new Error(`${file}: odd byte length ${buf.length}; expected uint16 LE tokens`);
  const out = new Uint16Array(buf.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = buf.readUInt16LE(2 * i);
  return out;
}

/**
 * Non-overlapping next-token windows, exactly as tools/py/train_gpt2.py's val_windows: with n = floor((N-1)/ctx),
 * window k reads tokens[k*ctx .. k*ctx+ctx-1] and predicts tokens[k*ctx+1 .. k*ctx+ctx]. Consecutive windows share
 * one token (the last target of window k is the first input of window k+1), so tokens[1 .. n*ctx] are each
 * predicted exactly once; every window starts at position id 0 (no carried context).
 */
export function nextTokenWindows(tokens: ArrayLike<number>, ctx: number): { x: number[][]; y: number[][] } {
  const n = Math.floor((tokens.length - 1) / ctx);
  const x: number[][] = [];
  const y: number[][] = [];
  for (let k = 0; k < n; k++) {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < ctx; i++) {
      xs.push(tokens[k * ctx + i]);
      ys.push(tokens[k * ctx + i + 1]);
    }
    x.push(xs);
    y.push(ys);
  }
  return { x, y };
}

/**
 * Cross-entropy (natural log) of logits [B,T,V] against targets [B][T]: adds -log softmax(logits)[target] for each
 * row/position into perPosSum[t] (float64). Positions whose target is negative are skipped.
 */
export function addCrossEntropy(logits: Tensor, targets: number[][], perPosSum: Float64Array, perPosCount: Float64Array): void {
  const [B, T, V] = logits.dims;
  const d = logits.data;
  if (targets.length !== B) throw new Error(`targets: ${targets.length} rows for a batch of ${B}`);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const target = targets[b][t];
      if (target < 0) continue;
      const off = (b * T + t) * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (d[off + v] > max) max = d[off + v];
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(d[off + v] - max);
      perPosSum[t] += max + Math.log(sum) - d[off + target];
      perPosCount[t] += 1;
    }
  }
}

export interface WindowLoss {
  /** Mean next-token loss over all predicted tokens, nats/token. */
  loss: number;
  perplexity: number;
  windows: number;
  predicted: number;
  /** Mean loss at each window position 0..ctx-1 (position t predicts the token after input t). */
  perPosition: number[];
  seconds: number;
}

/** Mean next-token loss of `tokens` under nextTokenWindows(tokens, ctx) (optionally only the first maxWindows). */
export async function windowLoss(
  model: LogitsModel,
  tokens: ArrayLike<number>,
  opts: { ctx: number; batch?: number; maxWindows?: number; onBatch?: (done: number, total: number) => void },
): Promise<WindowLoss> {
  const t0 = performance.now();
  let { x, y } = nextTokenWindows(tokens, opts.ctx);
  if (opts.maxWindows !== undefined) {
    x = x.slice(0, opts.maxWindows);
    y = y.slice(0, opts.maxWindows);
  }
  const batch = opts.batch ?? 8;
  const sum = new Float64Array(opts.ctx);
  const cnt = new Float64Array(opts.ctx);
  for (let i = 0; i < x.length; i += batch) {
    const r = await model.run({ tokens: x.slice(i, i + batch), logits: true });
    addCrossEntropy(r.logits!, y.slice(i, i + batch), sum, cnt);
    opts.onBatch?.(Math.min(i + batch, x.length), x.length);
  }
  const total = sum.reduce((a, b) => a + b, 0);
  const n = cnt.reduce((a, b) => a + b, 0);
  const loss = total / n;
  return {
    loss,
    perplexity: Math.exp(loss),
    windows: x.length,
    predicted: n,
    perPosition: Array.from(sum, (s, t) => s / cnt[t]),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Unigram model from token counts with add-one smoothing over the whole vocabulary; cross-entropy on targets. */
export function unigramCrossEntropy(train: ArrayLike<number>, targets: ArrayLike<number>, vocab: number): number {
  const counts = new Float64Array(vocab).fill(1);
  for (let i = 0; i < train.length; i++) counts[train[i]] += 1;
  const total = train.length + vocab;
  let h = 0;
  for (let i = 0; i < targets.length; i++) h -= Math.log(counts[targets[i]] / total);
  return h / targets.length;
}

/** Picks the next token from one row of logits: greedy (temperature 0) or temperature + top-k sampling. */
export function pickToken(row: Float32Array, opts: { temperature: number; topK: number; rand: () => number }): number {
  const V = row.length;
  if (opts.temperature <= 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
    return best;
  }
  // Top-k by value (ties broken by lower id), then softmax of logits/temperature over those k.
  const idx = Array.from({ length: V }, (_, i) => i);
  idx.sort((a, b) => row[b] - row[a] || a - b);
  const top = idx.slice(0, Math.min(opts.topK, V));
  const m = row[top[0]];
  const w = top.map((i) => Math.exp((row[i] - m) / opts.temperature));
  const z = w.reduce((a, b) => a + b, 0);
  let u = opts.rand() * z;
  for (let j = 0; j < top.length; j++) {
    u -= w[j];
    if (u < 0) return top[j];
  }
  return top[top.length - 1];
}

/**
 * Generates up to `steps` tokens after `prompt` by repeated full forward passes (no KV cache); stops after
 * `stopId` if given, or when the context (ctx) is full.
 */
export async function generate(
  model: LogitsModel,
  prompt: number[],
  opts: { steps: number; ctx: number; temperature: number; topK: number; seed: number; stopId?: number },
): Promise<number[]> {
  const rand = mulberry32(opts.seed);
  const ids = [...prompt];
  const out: number[] = [];
  for (let s = 0; s < opts.steps && ids.length < opts.ctx; s++) {
    const r = await model.run({ tokens: [ids], logits: true });
    const l = r.logits!;
    const V = l.dims[2];
    const row = l.data.subarray((ids.length - 1) * V, ids.length * V);
    const next = pickToken(row, { temperature: opts.temperature, topK: opts.topK, rand });
    ids.push(next);
    out.push(next);
    if (opts.stopId !== undefined && next === opts.stopId) break;
  }
  return out;
}

/**
 * UTF-8 bytes of the text that tokens [from, to) stand for, so that losses compare across tokenizers (nats/byte):
 * each run between document breaks is decoded whole (a character split over tokens counts once), and every
 * document break (`eot`) counts as one byte.
 */
export function textBytes(tokens: ArrayLike<number>, from: number, to: number, eot: number, decode: (ids: number[]) => string): number {
  let bytes = 0;
  let run: number[] = [];
  const flush = () => {
    if (run.length) bytes += Buffer.byteLength(decode(run), 'utf8');
    run = [];
  };
  for (let i = from; i < to; i++) {
    if (tokens[i] === eot) {
      flush();
      bytes += 1;
    } else run.push(tokens[i]);
  }
  flush();
  return bytes;
}

/** Mean loss of a loss vector's entries in [from, to). */
export function meanRange(v: ArrayLike<number>, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += v[i];
  return s / (to - from);
}

/** The in-context repeat test of every model card: random id sequences, each followed by itself. */
export const REPEAT = { sequences: 20, length: 50, lo: 1000, hi: 20000, seed: 1234 };

/**
 * The repeat test's ids for a vocabulary: [1000, 20000), or [1000, V - 1) for a smaller vocabulary, so the last id
 * (the bundled family's <|endoftext|>) is never drawn. tools/py/train_v2.py repeat_hi is the same rule.
 */
export function repeatRange(vocabSize: number): { lo: number; hi: number } {
  const hi = Math.min(REPEAT.hi, vocabSize - 1);
  if (hi - REPEAT.lo < REPEAT.length) throw new Error(`repeat test: a vocabulary of ${vocabSize} ids is too small for ids from ${REPEAT.lo}`);
  return { lo: REPEAT.lo, hi };
}

/** The repeat test's rows, BOS + seq + seq, with mulberry32(REPEAT.seed) as every card and trainer draws them. */
export function repeatRows(vocabSize: number, bos: number, rand: () => number): number[][] {
  const { lo, hi } = repeatRange(vocabSize);
  return Array.from({ length: REPEAT.sequences }, () => {
    const seq = Array.from({ length: REPEAT.length }, () => lo + Math.floor(rand() * (hi - lo)));
    return [bos, ...seq, ...seq];
  });
}

/**
 * The repeat test through a model: mean next-token loss on the first copy, on the second, and on the second without
 * its first token (which no copy predicts), nats/token, over repeatRows(vocabSize, bos, mulberry32(REPEAT.seed)).
 */
export async function repeatTest(model: LogitsModel, vocabSize: number, bos: number): Promise<{ firstCopy: number; secondCopy: number; secondCopyExcludingItsFirstToken: number }> {
  const L = REPEAT.length;
  const rows = repeatRows(vocabSize, bos, mulberry32(REPEAT.seed));
  const r = await model.run({ tokens: rows.map((row) => row.slice(0, -1)), logits: true });
  const sum = new Float64Array(2 * L);
  const cnt = new Float64Array(2 * L);
  addCrossEntropy(r.logits!, rows.map((row) => row.slice(1)), sum, cnt);
  const perPos = Array.from(sum, (x, i) => x / cnt[i]);
  return { firstCopy: meanRange(perPos, 0, L), secondCopy: meanRange(perPos, L, 2 * L), secondCopyExcludingItsFirstToken: meanRange(perPos, L + 1, 2 * L) };
}

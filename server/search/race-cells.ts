// Racing cells: only what ranking prompt variants needs (X's losses with each prompt, and a no-prompt baseline once
// per input), batched over inputs; and a finalist's continuations. No hooks, no knockouts (DESIGN "Searching").
import { checkAgainstModel } from '../../shared/analysis-input.js';
import { CancelledError, InputError } from '../../shared/errors.js';
import { rowLogSumExp, topPredictions } from '../../shared/metrics/loss.js';
import { parseMarkedPrompt } from '../../shared/metrics/spans.js';
import { batchItem, type Tensor } from '../../shared/metrics/tensor.js';
import { mulberry32 } from '../../shared/random.js';
import { estimateRowBytes, prefixCache } from '../analysis/execute.js';
import type { GraphVariant, HookedModel } from '../engine/hooked-model.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { settings } from '../settings.js';

export interface RaceCellsArgs {
  /** Marked prompts (the variants' texts). */
  prompts: string[];
  inputs: string[];
  /** Also the baseline: each input at its natural positions without a prompt ([BOS] + X at 0..n). */
  natural: boolean;
  /** Also the no-prompt run at each prompt's positions (the objective `benefitAtPromptPositions`). */
  shifted: boolean;
  maxBatchMB?: number;
}

export interface RaceCellsResult {
  /** [prompt][input]: the loss of each input token with the prompt (as the analysis's with-prompt run). */
  withPrompt: number[][][];
  /** [input]: the loss of each input token at its natural positions without a prompt. */
  natural: number[][] | null;
  /** [prompt][input]: the loss of each input token without the prompt, at the prompt's positions. */
  shifted: number[][][] | null;
  /** Engine calls made. */
  calls: number;
}

/** The smallest graph that serves every racing call: logits rows and in-graph target log-probabilities, no hooks. */
const RACE_GRAPH: GraphVariant = { hooks: [], bias: false, rows: true, targets: true };
/** Rows per engine call at most, whatever the memory bound allows (a call's latency stays short for cancels). */
const MAX_ROWS = 32;

const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

/** Right-pads rows to one length: with causal attention a row's real tokens never see the padding after them. */
function padRows(rows: number[][], pad: number): number[][] {
  const T = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => (r.length === T ? r : [...r, ...Array(T - r.length).fill(pad)]));
}

/** A padded row costs its longest member: rows longer than this times a chunk's shortest start a new chunk. */
const MAX_PAD_RATIO = 1.25;

/**
 * Input indices in chunks of at most `size` rows, shortest first, a chunk closed when the next input is much longer
 * than its first (so that right padding wastes little).
 */
function lengthChunks(lens: number[], size: number): number[][] {
  const order = range(0, lens.length).sort((a, b) => lens[a] - lens[b] || a - b);
  const out: number[][] = [];
  for (const i of order) {
    const last = out[out.length - 1];
    if (last && last.length < size && lens[i] <= MAX_PAD_RATIO * lens[last[0]]) last.push(i);
    else out.push([i]);
  }
  return out;
}

export async function raceCells(m: HookedModel, tok: TextTokenizer, args: RaceCellsArgs, isCancelled: () => boolean = () => false): Promise<RaceCellsResult> {
  const c = m.config;
  const bos = tok.bosId;
  let calls = 0;
  const check = () => {
    if (isCancelled()) throw new CancelledError();
  };
  const promptIds = args.prompts.map((p, k) => {
    let text: string;
    try {
      text = parseMarkedPrompt(p).text;
    } catch (e) {
      throw new InputError((e as Error).message, `prompts.${k}`);
    }
    return tok.encode(text);
  });
  const inputIds = args.inputs.map((x) => tok.encode(x));
  const lens = inputIds.map((x) => x.length);
  const nmaxAll = Math.max(...lens);
  promptIds.forEach((ids, k) => {
    inputIds.forEach((x, i) => {
      try {
        checkAgainstModel({ p: ids.length, n: x.length }, c, { layerWindow: 0 });
      } catch (e) {
        throw new InputError(`${(e as Error).message.replace(/^\w+: /, '')} (prompt ${k + 1}, input ${i + 1})`, (e as InputError).field === 'prompt' ? `prompts.${k}` : `inputs.${i}`);
      }
    });
  });
  // A graph that quantises activations per tensor at run time (HookedModel.activationScalesPerCall) runs as the
  // analysis runs it: one sequence per call, no prefix reuse, every row through the unembedding, so that its losses
  // are onnxruntime's own and do not depend on which inputs share a call.
  const whole = m.activationScalesPerCall() !== null;
  const maxBytes = (args.maxBatchMB ?? settings().maxBatchMB) * 2 ** 20 - 2 * m.weightBytes;
  const rowsFor = (T: number, R: number) => (whole ? 1 : Math.max(1, Math.min(MAX_ROWS, Math.floor(maxBytes / estimateRowBytes(c, T, R, false)))));

  /** Target log-probabilities [B, R] at `logitRows`; for whole sequences every row is computed and these picked after. */
  const targetRows = async (req: { tokens: number[][]; positionIds: number[][]; logitRows: number[]; targets: number[][] }): Promise<Tensor> => {
    if (!whole) return (await m.run({ ...req, logits: false, variant: RACE_GRAPH })).targetLogprobs!;
    const T = req.tokens[0].length;
    const R = req.logitRows.length;
    const full = req.targets.map((t) => {
      const row = new Array<number>(T).fill(0);
      req.logitRows.forEach((r, i) => (row[r] = t[i]));
      return row;
    });
    const lp = (await m.run({ tokens: req.tokens, positionIds: req.positionIds, targets: full, logits: false, variant: RACE_GRAPH })).targetLogprobs!;
    const data = new Float32Array(req.tokens.length * R);
    for (let b = 0; b < req.tokens.length; b++) for (let i = 0; i < R; i++) data[b * R + i] = lp.data[b * T + req.logitRows[i]];
    return { data, dims: [req.tokens.length, R] };
  };

  /** Losses of targets from rows of [BOS/prefix] + tokens: targetLogprobs [B, R], row b's first `len[b]` entries. */
  const lossesOf = (lp: Tensor, b: number, R: number, len: number) => Array.from(lp.data.subarray(b * R, b * R + len), (x) => -x);

  // --- the baseline: [BOS] + X at positions 0..n (or 0, p+1..p+n for `shifted`), inputs batched
  const noPrompt = async (p: number | null): Promise<number[][]> => {
    const out: number[][] = new Array(inputIds.length);
    for (const part of lengthChunks(lens, rowsFor(1 + (p ?? 0) + nmaxAll, nmaxAll))) {
      const rows = part.map((i) => [bos, ...inputIds[i]]);
      const tokens = padRows(rows, bos);
      const T = tokens[0].length;
      const positionIds = tokens.map(() => range(0, T).map((t) => (t === 0 || p === null ? Math.min(t, c.nCtx - 1) : Math.min(p + t, c.nCtx - 1))));
      const targets = padRows(
        part.map((i) => inputIds[i]),
        0,
      );
      const lp = await targetRows({ tokens, positionIds, logitRows: range(0, T - 1), targets });
      calls++;
      part.forEach((i, b) => (out[i] = lossesOf(lp, b, T - 1, inputIds[i].length)));
      check();
    }
    return out;
  };

  const natural = args.natural ? await noPrompt(null) : null;
  const pairs = whole ? null : m.pastPairs();
  const withPrompt: number[][][] = [];
  const shifted: number[][][] | null = args.shifted ? [] : null;
  const shiftedByP = new Map<number, number[][]>();
  for (const ids of promptIds) {
    const p = ids.length;
    const perInput: number[][] = new Array(inputIds.length);
    if (pairs) {
      // The prompt's keys/values once (from the analyses' prefix cache when this process has them), then X's
      // columns of many inputs in one call continuing them: the same two runs an analysis's with-prompt run makes.
      let presents: Map<string, Tensor>;
      let last: Float32Array;
      let lse: number;
      const hit = prefixCache.get({ model: m.modelHash, bos, promptIds: ids });
      if (hit) {
        presents = hit.presents;
        last = hit.lastLogits;
        lse = hit.lastLogSumExp;
      } else {
        const r = await m.run({ tokens: [[bos, ...ids]], logitRows: [p], presents: true, variant: RACE_GRAPH });
        calls++;
        presents = r.presents!;
        last = batchItem(r.logits!, 0).data.slice();
        lse = rowLogSumExp(last);
      }
      for (const part of lengthChunks(lens, rowsFor(1 + p + nmaxAll, nmaxAll))) {
        const tokens = padRows(
          part.map((i) => inputIds[i]),
          bos,
        );
        const n = tokens[0].length;
        const past: Record<string, Tensor> = {};
        for (const { past: name, present } of pairs) {
          const t = presents.get(present)!;
          const data = new Float32Array(part.length * t.data.length);
          for (let b = 0; b < part.length; b++) data.set(t.data, b * t.data.length);
          past[name] = { data, dims: [part.length, ...t.dims.slice(1)] };
        }
        const positionIds = tokens.map(() => range(0, n).map((t) => Math.min(p + 1 + t, c.nCtx - 1)));
        // x_1 is predicted by the prompt's last row; X's own rows predict x_2..x_n.
        let rest: Tensor | null = null;
        if (n > 1) {
          const targets = padRows(
            part.map((i) => inputIds[i].slice(1)),
            0,
          ).map((r) => (r.length ? r : Array(n - 1).fill(0)));
          const r = await m.run({ tokens, positionIds, past, logitRows: range(0, n - 1), targets, logits: false, variant: RACE_GRAPH });
          calls++;
          rest = r.targetLogprobs!;
        }
        part.forEach((i, b) => {
          const x = inputIds[i];
          perInput[i] = [lse - last[x[0]], ...(rest ? lossesOf(rest, b, n - 1, x.length - 1) : [])];
        });
        check();
      }
    } else {
      // No KV cache in the graph: [BOS] + P' + X whole, inputs of one prompt batched.
      for (const part of lengthChunks(lens, rowsFor(1 + p + nmaxAll, nmaxAll))) {
        const tokens = padRows(
          part.map((i) => [bos, ...ids, ...inputIds[i]]),
          bos,
        );
        const T = tokens[0].length;
        const n = T - 1 - p;
        const targets = padRows(
          part.map((i) => inputIds[i]),
          0,
        );
        const lp = await targetRows({ tokens, positionIds: tokens.map(() => range(0, T).map((t) => Math.min(t, c.nCtx - 1))), logitRows: range(p, p + n), targets });
        calls++;
        part.forEach((i, b) => (perInput[i] = lossesOf(lp, b, n, inputIds[i].length)));
        check();
      }
    }
    withPrompt.push(perInput);
    if (shifted) {
      let s = shiftedByP.get(p);
      if (!s) {
        s = await noPrompt(p);
        shiftedByP.set(p, s);
      }
      shifted.push(s);
    }
  }
  return { withPrompt, natural, shifted, calls };
}

export interface ContinuationArgs {
  prompt: string;
  count: number;
  tokens: number;
  seed: number;
  topK: number;
}

export interface ContinuationResult {
  nextTokens: { token: string; prob: number }[];
  continuations: string[];
}

/** What a prompt sets the model up to expect: its top next tokens and `count` seeded samples (temperature 1). */
export async function promptContinuations(m: HookedModel, tok: TextTokenizer, a: ContinuationArgs, isCancelled: () => boolean = () => false): Promise<ContinuationResult> {
  const ids = tok.encode(parseMarkedPrompt(a.prompt).text);
  const c = m.config;
  const steps = Math.max(0, Math.min(a.tokens, c.nCtx - 1 - ids.length));
  const rand = mulberry32(a.seed);
  const rows = Array.from({ length: Math.max(1, a.count) }, () => [tok.bosId, ...ids]);
  let nextTokens: ContinuationResult['nextTokens'] = [];
  // Each row's last logits. A graph that quantises activations per tensor at run time runs each row alone and whole
  // (rows sharing a call, or a picked row alone in the head, would change each other's scales).
  const whole = m.activationScalesPerCall() !== null;
  const lastLogits = async (rs: number[][], T: number): Promise<Float32Array[]> => {
    if (!whole) {
      const r = await m.run({ tokens: rs, logitRows: [T - 1], variant: RACE_GRAPH });
      const V = r.logits!.dims[2];
      return rs.map((_, b) => r.logits!.data.subarray(b * V, (b + 1) * V));
    }
    const out: Float32Array[] = [];
    for (const row of rs) {
      const r = await m.run({ tokens: [row], variant: RACE_GRAPH });
      const V = r.logits!.dims[2];
      out.push(r.logits!.data.slice((T - 1) * V, T * V));
    }
    return out;
  };
  for (let s = 0; s < Math.max(1, steps); s++) {
    const T = rows[0].length;
    if (T > c.nCtx) break;
    const lastRows = await lastLogits(rows, T);
    if (isCancelled()) throw new CancelledError();
    const V = lastRows[0].length;
    for (let b = 0; b < rows.length; b++) {
      const row = lastRows[b];
      const lse = rowLogSumExp(row);
      if (s === 0 && b === 0) nextTokens = topPredictions(row, a.topK, lse).map((q) => ({ token: tok.tokenStrings([q.id])[0], prob: q.prob }));
      if (steps === 0) continue;
      let u = rand();
      let pick = V - 1;
      for (let v = 0; v < V; v++) {
        u -= Math.exp(row[v] - lse);
        if (u <= 0) {
          pick = v;
          break;
        }
      }
      rows[b].push(pick);
    }
  }
  const continuations = a.count > 0 && steps > 0 ? rows.map((r) => tok.decode(r.slice(1 + ids.length))) : [];
  return { nextTokens, continuations };
}

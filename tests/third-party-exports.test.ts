// Exports as other tools write them (issue 23): genai folders whose config leaves out what the graph says,
// onnxruntime's GPT2Model export without an LM head, a graph onnxruntime itself refuses, and quantize_dynamic's int8,
// each compared with onnxruntime-node's own run of the user's unmodified graph.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../server/analysis/analyze.js';
import { clearRunCaches } from '../server/analysis/execute.js';
import { HookedModel } from '../server/engine/hooked-model.js';
import { decodeModel, encodeModel, num, onnx, TensorType, type ModelProto } from '../server/engine/onnx-graph.js';
import { openModelDir } from '../server/model/model-dir.js';
import { promptContinuations, raceCells } from '../server/search/race-cells.js';
import type { AnalysisResult } from '../shared/analysis.js';
import { FIXTURES } from './helpers/golden.js';
import { modelOpener } from './helpers/models.js';

const opener = modelOpener('pl-third-party-');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-third-party-dirs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PROMPT = 'Hello, ';
const INPUT = 'world!\nAbc';

/** A graph's declared inputs: element type and dims (-1 symbolic). */
function declaredInputs(m: ModelProto): Map<string, { type: number; dims: number[] }> {
  return new Map(
    (m.graph!.input ?? []).map((vi) => [
      vi.name!,
      { type: vi.type!.tensorType!.elemType!, dims: (vi.type!.tensorType!.shape?.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : -1)) },
    ]),
  );
}

/**
 * onnxruntime-node's own run of the user's graph file, unmodified: one sequence, whole, at `positions`, with empty
 * past inputs. Returns the first output [T, width] (logits, or GPT2Model's last_state).
 */
async function ortRun(graph: string, tokens: number[], positions: number[]): Promise<{ data: Float32Array; width: number; model: ModelProto }> {
  const model = decodeModel(fs.readFileSync(graph));
  const inputs = declaredInputs(model);
  const T = tokens.length;
  const ints = (name: string, v: number[], dims: number[]) =>
    inputs.get(name)!.type === TensorType.INT32 ? new ort.Tensor('int32', Int32Array.from(v), dims) : new ort.Tensor('int64', BigInt64Array.from(v, BigInt), dims);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, { dims }] of inputs) {
    if (name === 'input_ids') feeds[name] = ints(name, tokens, [1, T]);
    else if (name === 'position_ids') feeds[name] = ints(name, positions, [1, T]);
    else if (name === 'attention_mask') feeds[name] = ints(name, tokens.map(() => 1), [1, T]);
    else if (name.startsWith('past_key_values.')) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, dims[1], 0, dims[3]]);
    else if (/^past_\d+$/.test(name)) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [2, 1, dims[2], 0, dims[4]]);
    else throw new Error(`ortRun: unexpected input ${name}`);
  }
  const s = await ort.InferenceSession.create(graph, { intraOpNumThreads: 1 });
  const first = model.graph!.output![0].name!;
  const out = (await s.run(feeds, [first]))[first];
  await s.release();
  return { data: out.data as Float32Array, width: Number(out.dims[out.dims.length - 1]), model };
}

/** -log softmax(row)[target] in float64, for rows[i] -> targets[i]. */
function losses(logits: Float32Array, V: number, rows: number[], targets: number[]): number[] {
  return rows.map((r, i) => {
    const row = logits.subarray(r * V, (r + 1) * V);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let s = 0;
    for (const x of row) s += Math.exp(x - max);
    return max + Math.log(s) - row[targets[i]];
  });
}

type LogitsOf = (out: Awaited<ReturnType<typeof ortRun>>) => { data: Float32Array; V: number };
const asLogits: LogitsOf = (o) => ({ data: o.data, V: o.width });

/**
 * onnxruntime's losses for the analysis's three runs: [BOS] + P' + X, [BOS] + X at the same positions (run on
 * `shiftedGraph`, default the same graph) and [BOS] + X at its natural positions.
 */
async function referenceLosses(graph: string, r: AnalysisResult, logitsOf: LogitsOf = asLogits, shiftedGraph = graph) {
  const bos = r.bos.id;
  const p = r.p;
  const x = r.input.tokens.map((t) => t.id);
  const seq = [bos, ...r.prompt.tokens.map((t) => t.id), ...x];
  const withRun = logitsOf(await ortRun(graph, seq, seq.map((_, i) => i)));
  const noRun = logitsOf(await ortRun(shiftedGraph, [bos, ...x], [0, ...x.map((_, i) => p + 1 + i)]));
  const natural = logitsOf(await ortRun(graph, [bos, ...x], [0, ...x.map((_, i) => 1 + i)]));
  return {
    withPrompt: losses(withRun.data, withRun.V, x.map((_, i) => p + i), x),
    noPrompt: losses(noRun.data, noRun.V, x.map((_, i) => i), x),
    natural: losses(natural.data, natural.V, x.map((_, i) => i), x),
  };
}

function maxAbs(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}

async function analyzeDir(dir: string, opts: { maxRowsPerCall?: number } = {}): Promise<AnalysisResult> {
  clearRunCaches();
  const { m, tok } = opener.open(dir);
  return analyze(m, tok, { modelId: path.basename(dir), prompt: PROMPT, input: INPUT, ...opts });
}

/** A copy of a fixture directory with genai_config.json edited. */
function genaiVariant(fixture: string, name: string, edit: (decoder: Record<string, unknown>) => void): string {
  const dir = path.join(tmp, name);
  fs.cpSync(path.join(FIXTURES, fixture), dir, { recursive: true });
  const file = path.join(dir, 'genai_config.json');
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as { model: { decoder: Record<string, unknown> } };
  edit(cfg.model.decoder);
  fs.writeFileSync(file, JSON.stringify(cfg, null, 4));
  return dir;
}

describe('onnxruntime-genai folders whose genai_config.json leaves out what the graph states', () => {
  // onnxruntime's GroupQueryAttention kernel numbers the positions of a run without past from 0 whatever
  // position_ids say, so [BOS] + X at shifted positions is checked against the eager twin (the same weights, the
  // builder's graph un-fused by hand in scripts/make-random-llama.ts), whose rotary reads position_ids.
  const LLAMA_EAGER = path.join(FIXTURES, 'llama-tiny-eager/onnx/model.onnx');
  // The Phi-2 form has no eager twin: its shifted no-prompt run is checked through the knockout identity only.
  const cases: [string, { nHead: number; nKvHead: number; dModel: number; dHead: number; graph: string; shifted?: string | null }][] = [
    ['genai-gpt2-attention', { nHead: 2, nKvHead: 2, dModel: 32, dHead: 16, graph: 'past.onnx' }],
    ['genai-llama-gqa', { nHead: 4, nKvHead: 2, dModel: 64, dHead: 16, graph: 'model.onnx', shifted: LLAMA_EAGER }],
    ['genai-phi3-packed-gqa', { nHead: 4, nKvHead: 2, dModel: 64, dHead: 16, graph: 'model.onnx', shifted: LLAMA_EAGER }],
    ['genai-phi2-parallel', { nHead: 2, nKvHead: 2, dModel: 64, dHead: 32, graph: 'model.onnx', shifted: null }],
  ];
  for (const [fixture, want] of cases) {
    it(`${fixture}: heads and hidden size come from the graph, and the analysis's losses equal onnxruntime's run of the graph (1e-4)`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const decoder = (JSON.parse(fs.readFileSync(path.join(dir, 'genai_config.json'), 'utf8')) as { model: { decoder: Record<string, unknown> } }).model.decoder;
      expect(decoder).not.toHaveProperty('num_attention_heads');
      expect(decoder).not.toHaveProperty('hidden_size');
      expect(openModelDir(dir).config).toMatchObject({ nHead: want.nHead, nKvHead: want.nKvHead, dModel: want.dModel, dHead: want.dHead, nLayer: 2, nCtx: 64, vocabSize: 257 });
      const r = await analyzeDir(dir);
      const ref = await referenceLosses(path.join(dir, want.graph), r, asLogits, want.shifted ?? undefined);
      expect(maxAbs(r.input.tokens.map((t) => t.lossWithPrompt), ref.withPrompt)).toBeLessThan(1e-4);
      if (want.shifted !== null) expect(maxAbs(r.input.tokens.map((t) => t.lossNoPrompt), ref.noPrompt)).toBeLessThan(1e-4);
      expect(maxAbs(r.input.tokens.map((t) => t.lossNoPromptNatural), ref.natural)).toBeLessThan(1e-4);
      expect(r.summary.identityResidual).toBeLessThan(1e-4);
    });
  }

  it('the builder\'s full config (num_attention_heads and hidden_size written) agrees with the graph and loads', () => {
    const dir = genaiVariant('genai-llama-gqa', 'llama-full-config', (d) => Object.assign(d, { num_attention_heads: 4, hidden_size: 64 }));
    expect(opener.open(dir).m.config).toMatchObject({ nHead: 4, dModel: 64 });
  });

  it('a config that contradicts the graph is refused naming both values and both files', () => {
    const dir = genaiVariant('genai-llama-gqa', 'llama-wrong-heads', (d) => Object.assign(d, { num_attention_heads: 8 }));
    const cfg = path.join(dir, 'genai_config.json');
    expect(() => opener.open(dir)).toThrow(
      `${cfg}: n_head / num_attention_heads / num_heads is 8, but ${path.join(dir, 'model.onnx')} has 4 (attribute num_heads of node "/model/layers.0/attn/GroupQueryAttention" (com.microsoft.GroupQueryAttention))`,
    );
    const kv = genaiVariant('genai-gpt2-attention', 'gpt2-wrong-hidden', (d) => Object.assign(d, { hidden_size: 48 }));
    expect(() => opener.open(kv)).toThrow(/hidden_size .* is 48, but .*past\.onnx has 32 \(the token embedding "transformer\.wte\.weight" \[257, 32\]\)/);
  });

  it('a context longer than the graph\'s position table is refused; a shorter one only limits the context', () => {
    const dir = genaiVariant('genai-llama-gqa', 'llama-long-context', () => undefined);
    const file = path.join(dir, 'genai_config.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as { model: Record<string, unknown> };
    cfg.model.context_length = 128;
    fs.writeFileSync(file, JSON.stringify(cfg));
    expect(() => opener.open(dir)).toThrow(/is 128, but .*model\.onnx has positions for 64 only \(the rotary cos cache "model\.rotary\.cos_cache" \[64, 8\]\)/);
    cfg.model.context_length = 32;
    fs.writeFileSync(file, JSON.stringify(cfg));
    expect(opener.open(dir).m.config.nCtx).toBe(32);
  });

  it('an eager graph (no fused attention node) with a config that leaves out the heads is refused naming the keys and why the graph cannot say', () => {
    const dir = path.join(tmp, 'eager-no-heads');
    fs.cpSync(path.join(FIXTURES, 'gpt2-tiny-eager'), dir, { recursive: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete cfg.n_head;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    expect(() => openModelDir(dir)).toThrow(/config\.json: needs a positive integer in one of: n_head, num_attention_heads, num_heads \(the graph .* does not state the head count: no fused attention node carries num_heads either\)/);
  });
});

describe('onnxruntime\'s GPT2Model export (output last_state, no LM head)', () => {
  const dir = path.join(FIXTURES, 'gpt2model-last-state');
  const graph = path.join(dir, 'gpt2_past.onnx');

  it('gets the tied unembedding (the Gather on input_ids\' initializer) appended; the analysis equals onnxruntime\'s run times that matrix (1e-4)', async () => {
    const r = await analyzeDir(graph);
    const tied = (o: Awaited<ReturnType<typeof ortRun>>) => {
      // logits = last_state @ E^T, E the matrix the graph's Gather reads with (reshaped) input_ids.
      const E = o.model.graph!.initializer!.find((t) => t.name === 'wte.weight')!;
      const raw = E.rawData!;
      const w = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const [V, d] = (E.dims ?? []).map(num);
      expect(d).toBe(o.width);
      const T = o.data.length / d;
      const out = new Float32Array(T * V);
      for (let t = 0; t < T; t++) for (let v = 0; v < V; v++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += o.data[t * d + k] * w[v * d + k];
        out[t * V + v] = s;
      }
      return { data: out, V };
    };
    const ref = await referenceLosses(graph, r, tied);
    expect(maxAbs(r.input.tokens.map((t) => t.lossWithPrompt), ref.withPrompt)).toBeLessThan(1e-4);
    expect(maxAbs(r.input.tokens.map((t) => t.lossNoPrompt), ref.noPrompt)).toBeLessThan(1e-4);
    expect(r.summary.identityResidual).toBeLessThan(1e-4);
  });

  it('without a constant embedding to tie, it is refused naming the output and what is missing', async () => {
    const d = path.join(tmp, 'gpt2model-no-embedding');
    fs.cpSync(dir, d, { recursive: true });
    const file = path.join(d, 'gpt2_past.onnx');
    const m = decodeModel(fs.readFileSync(file));
    // The embedding becomes a graph input (fed at run time), so no constant matrix is gathered by input_ids.
    const e = m.graph!.initializer!.findIndex((t) => t.name === 'wte.weight');
    m.graph!.initializer!.splice(e, 1);
    m.graph!.input!.push(onnx.ValueInfoProto.create({ name: 'wte.weight', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: TensorType.FLOAT }) }) }));
    fs.writeFileSync(file, encodeModel(m));
    const { m: hm } = opener.open(file);
    expect(() => hm.analyze()).toThrow(
      `${file}: the graph has no logits output (its output "last_state" is the hidden state) and no token embedding was found to use as the tied unembedding (no Gather of a constant [vocab, hidden] matrix reads input_ids)`,
    );
  });
});

describe('a graph onnxruntime itself cannot load (opset 10, Equal on floats)', () => {
  it('is reported as the user\'s own file failing, with onnxruntime\'s message and no cache path', async () => {
    const dir = path.join(FIXTURES, 'gpt2-opset10-float-equal');
    const { m, tok } = opener.open(dir);
    const err = await analyze(m, tok, { modelId: 'opset10', prompt: PROMPT, input: INPUT }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    const graph = path.join(dir, 'onnx/model.onnx');
    expect(err!.message.startsWith(`${graph}: onnxruntime cannot load this model's graph as exported (before any rewriting): `)).toBe(true);
    expect(err!.message).toMatch(/Equal/);
    expect(err!.message).not.toContain(opener.cacheDir);
    expect(err!.message).not.toMatch(/rewritten/);
    // onnxruntime refuses the file itself, so the message is about the user's graph, not the workbench's rewrite.
    await expect(ort.InferenceSession.create(graph)).rejects.toThrow(/Equal/);
  });
});

describe('dynamic int8 (quantize_dynamic: DynamicQuantizeLinear + MatMulInteger)', () => {
  for (const fixture of ['gpt2-tiny-dynamic-int8', 'llama-tiny-dynamic-int8']) {
    const graph = path.join(FIXTURES, fixture, 'onnx/model_quantized.onnx');
    it(`${fixture}: every sequence runs alone and whole, so losses equal onnxruntime's whole-sequence runs (1e-5) whatever the batching, and the knockout identity holds to 1e-5`, async () => {
      const { m } = opener.open(graph);
      expect(m.activationScalesPerCall()).toMatch(/DynamicQuantizeLinear nodes/);
      const r = await analyzeDir(graph);
      const ref = await referenceLosses(graph, r);
      expect(maxAbs(r.input.tokens.map((t) => t.lossWithPrompt), ref.withPrompt)).toBeLessThan(1e-5);
      expect(maxAbs(r.input.tokens.map((t) => t.lossNoPrompt), ref.noPrompt)).toBeLessThan(1e-5);
      expect(maxAbs(r.input.tokens.map((t) => t.lossNoPromptNatural), ref.natural)).toBeLessThan(1e-5);
      // Blocking X -> P' also blocks the shared quantisation scale, so K(all layers) is the no-prompt run.
      expect(r.summary.identityResidual).toBeLessThan(1e-5);
      expect(Math.abs(r.summary.meanBenefitRead)).toBeGreaterThan(1e-2);
      // Batching limits change nothing: each variant is its own call.
      const one = await analyzeDir(graph, { maxRowsPerCall: 1 });
      expect(one.depthCurve).toEqual(r.depthCurve);
      expect(one.spans.map((s) => s.kAllLayers)).toEqual(r.spans.map((s) => s.kAllLayers));
    });
  }

  it('a blocked column leaves the per-tensor scales of the other rows as if it were not there: equal to onnxruntime\'s run without it', async () => {
    for (const fixture of ['gpt2-tiny-dynamic-int8', 'llama-tiny-dynamic-int8']) {
      const graph = path.join(FIXTURES, fixture, 'onnx/model_quantized.onnx');
      const { m } = opener.open(graph);
      const seq = [256, ...Buffer.from('Hello, world!\nA', 'utf8')];
      const T = seq.length;
      // Column T-1 is blocked for row 0, which causality hides from it anyway: only the scale path changes.
      const bias = new Float32Array(T * T);
      bias[T - 1] = -Infinity;
      const attentionBias = Object.fromEntries([0, 1].map((l) => [l, { data: bias, dims: [1, 1, T, T] }]));
      const r = await m.run({ tokens: [seq], attentionBias });
      const own = await ortRun(graph, seq.slice(0, T - 1), seq.slice(0, T - 1).map((_, i) => i));
      const whole = await ortRun(graph, seq, seq.map((_, i) => i));
      const V = 257;
      const diff = (a: Float32Array, b: Float32Array) => Math.max(...Array.from({ length: (T - 1) * V }, (_, i) => Math.abs(a[i] - b[i])));
      expect(diff(r.logits!.data, own.data), fixture).toBeLessThan(1e-5);
      // Without the block, the last row's activations do move the others' (the coupling the block removes).
      if (fixture === 'gpt2-tiny-dynamic-int8') expect(diff(whole.data, own.data)).toBeGreaterThan(1e-3);
    }
  });

  it('prompt-search racing cells on a dynamic-int8 graph give the analysis\'s losses (one sequence per call), whatever the batch bound', async () => {
    const graph = path.join(FIXTURES, 'llama-tiny-dynamic-int8', 'onnx/model_quantized.onnx');
    const { m, tok } = opener.open(graph);
    const inputs = [INPUT, 'ok then, more text'];
    const cells = await raceCells(m, tok, { prompts: [PROMPT, 'Bye. '], inputs, natural: true, shifted: true });
    const tight = await raceCells(m, tok, { prompts: [PROMPT, 'Bye. '], inputs, natural: true, shifted: true, maxBatchMB: 1 });
    expect(tight).toEqual(cells);
    const r = await analyzeDir(graph);
    expect(maxAbs(cells.withPrompt[0][0], r.input.tokens.map((t) => t.lossWithPrompt))).toBeLessThan(1e-6);
    expect(maxAbs(cells.shifted![0][0], r.input.tokens.map((t) => t.lossNoPrompt))).toBeLessThan(1e-6);
    expect(maxAbs(cells.natural![0], r.input.tokens.map((t) => t.lossNoPromptNatural))).toBeLessThan(1e-6);
  });

  it('a prompt\'s next-token probabilities on a dynamic-int8 graph are onnxruntime\'s whole-sequence run\'s (the quantised head sees every row)', async () => {
    const graph = path.join(FIXTURES, 'llama-tiny-dynamic-int8', 'onnx/model_quantized.onnx');
    const { m, tok } = opener.open(graph);
    const r = await promptContinuations(m, tok, { prompt: PROMPT, count: 3, tokens: 4, seed: 5, topK: 5 });
    expect(r.continuations).toHaveLength(3);
    const ids = [tok.bosId, ...tok.encode(PROMPT)];
    const own = await ortRun(graph, ids, ids.map((_, i) => i));
    const V = own.width;
    const last = own.data.subarray((ids.length - 1) * V, ids.length * V);
    const max = Math.max(...last);
    const z = last.reduce((a, x) => a + Math.exp(x - max), 0);
    // The top probabilities, largest first (ids are compared through the probabilities: byte tokens share display strings).
    const probs = Array.from(last, (x) => Math.exp(x - max) / z).sort((a, b) => b - a).slice(0, r.nextTokens.length);
    expect(maxAbs(r.nextTokens.map((t) => t.prob), probs)).toBeLessThan(1e-6);
  });

  it('weight-only quantisation (QDQ weights, MatMulNBits) keeps the split and batched fast path', () => {
    for (const f of ['gpt2-tiny-qdq', 'gpt2-tiny-q4', 'llama-tiny-genai-int4']) expect(opener.open(path.join(FIXTURES, f)).m.activationScalesPerCall(), f).toBeNull();
  });
});

describe('HookedModel reads the graph before the config', () => {
  it('a graph file that is not ONNX is refused at load, naming it', () => {
    const dir = path.join(tmp, 'not-onnx');
    fs.cpSync(path.join(FIXTURES, 'gpt2-tiny-eager'), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx'), 'not a protobuf at all \xff\xff\xff');
    expect(() => HookedModel.load(dir, { cacheDir: opener.cacheDir })).toThrow(`${path.join(dir, 'onnx/model.onnx')}: not a readable ONNX model`);
  });
});

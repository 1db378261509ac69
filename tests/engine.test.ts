// Hooked engine: hooks equal PyTorch goldens, knockout identity, zero bias, logit rows, targets, graph cache, fused ops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HookedModel, type Tensor } from '../server/engine/hooked-model.js';
import { allHookNames } from '../shared/hooks.js';
import { topPredictions } from '../shared/metrics/loss.js';
import { decodeModel, encodeModel, onnx } from '../server/engine/onnx-graph.js';
import { FIXTURES, maxAbsDiff, readGolden, type Nested } from './helpers/golden.js';

const TOL = 1e-4;
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-engine-test-'));
const models: HookedModel[] = [];
function load(name: string): HookedModel {
  const m = HookedModel.load(path.join(FIXTURES, name), { cacheDir, threads: 1 });
  models.push(m);
  return m;
}
afterAll(async () => {
  for (const m of models) await m.release();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

const GOLDEN_KEY: Record<string, string> = {
  hook_resid_pre: 'resid_pre',
  hook_resid_mid: 'resid_mid',
  hook_resid_post: 'resid_post',
  'attn.hook_pattern': 'pattern',
  'attn.hook_v': 'v',
  'attn.hook_value_norm': 'value_norm',
};

function goldenFor(g: ReturnType<typeof readGolden>, hook: string): Nested | undefined {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(hook);
  const rec = g as unknown as Record<string, Nested[] | Nested | undefined>;
  if (!m) return hook === 'logits' ? g.logits : g.ln_final;
  const l = Number(m[1]);
  const key = GOLDEN_KEY[m[2]];
  const per = rec[key] as Nested[] | undefined;
  if (per) return per[l];
  // HF goldens record attn_out, not resid_mid: mid = pre + attn_out.
  if (key === 'resid_mid' && g.attn_out) {
    const pre = g.resid_pre[l] as number[][];
    const ao = g.attn_out[l] as number[][];
    return pre.map((row, i) => row.map((v, j) => v + ao[i][j]));
  }
  return undefined;
}

describe('hooked activations equal the PyTorch reference', () => {
  const fixtures = ['gpt2-opset14', 'gpt2-opset17', 'gpt2-past-opset14', 'hf-tiny-gpt2', 'hf-tiny-gpt-neox', 'hf-tiny-llama'];
  for (const name of fixtures) {
    it(`${name}: every hook with a golden matches to 1e-4`, async () => {
      const m = load(name);
      const g = readGolden(path.join(FIXTURES, name));
      const hooks = allHookNames(m.config.nLayer);
      const r = await m.run({ tokens: [g.input_ids], positionIds: [g.position_ids], hooks });
      expect([...r.cache.keys()].sort()).toEqual([...hooks].sort());
      let compared = 0;
      for (const [hook, t] of r.cache) {
        const ref = goldenFor(g, hook);
        if (ref === undefined) continue;
        expect(maxAbsDiff(t, ref), hook).toBeLessThan(TOL);
        compared++;
      }
      // Every fixture has goldens for at least pre/mid/post/pattern per layer plus ln_final and logits.
      expect(compared).toBeGreaterThanOrEqual(4 * m.config.nLayer + 2);
    });
  }

  it('hook_v and hook_value_norm have the documented shapes [B,T,H,dh] and [B,H,T]', async () => {
    const m = load('hf-tiny-llama');
    const r = await m.run({ tokens: [[256, 1, 2, 3, 4]], hooks: ['blocks.1.attn.hook_v', 'blocks.1.attn.hook_value_norm'] });
    expect(r.cache.get('blocks.1.attn.hook_v')!.dims).toEqual([1, 5, 4, 16]);
    expect(r.cache.get('blocks.1.attn.hook_value_norm')!.dims).toEqual([1, 4, 5]);
  });
});

function logitsRows(t: Tensor, batch: number, rows: number[]): Float32Array[] {
  const [, T, V] = t.dims;
  return rows.map((r) => t.data.subarray((batch * T + r) * V, (batch * T + r + 1) * V));
}

function maxDiffRows(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

describe('attention-edge knockout', () => {
  for (const name of ['gpt2-opset14', 'gpt2-past-opset14', 'hf-tiny-gpt-neox', 'hf-tiny-llama']) {
    it(`${name}: blocking every input->prompt edge at all layers equals running [BOS]+input at shifted positions`, async () => {
      const m = load(name);
      const bos = 256;
      const prompt = [72, 101, 108, 108, 111, 44, 32]; // m = 7
      const input = [119, 111, 114, 108, 100, 33]; // k = 6
      const seq = [bos, ...prompt, ...input];
      const T = seq.length;
      const L = m.config.nLayer;
      const bias = new Float32Array(T * T);
      for (let i = 1 + prompt.length; i < T; i++) for (let j = 1; j <= prompt.length; j++) bias[i * T + j] = -Infinity;
      const attentionBias: Record<number, Tensor> = {};
      for (let l = 0; l < L; l++) attentionBias[l] = { data: bias, dims: [1, 1, T, T] };
      const blocked = await m.run({ tokens: [seq], attentionBias });
      const shortPos = [0, ...input.map((_, i) => prompt.length + 1 + i)];
      const short = await m.run({ tokens: [[bos, ...input]], positionIds: [shortPos] });
      const inputRows = input.map((_, i) => 1 + prompt.length + i);
      const d = maxDiffRows(logitsRows(blocked.logits!, 0, inputRows), logitsRows(short.logits!, 0, input.map((_, i) => 1 + i)));
      expect(d).toBeLessThan(TOL);
      // The blocked run must differ from the open one, or the test proves nothing.
      const open = await m.run({ tokens: [seq] });
      expect(maxDiffRows(logitsRows(open.logits!, 0, inputRows), logitsRows(blocked.logits!, 0, inputRows))).toBeGreaterThan(1e-2);
    });
  }

  it('a batch of variants with different blocked layers runs in one call and matches separate runs', async () => {
    const m = load('gpt2-opset17');
    const seq = [256, 10, 20, 30, 40, 50, 60, 70];
    const T = seq.length;
    const one = new Float32Array(T * T);
    for (let i = 5; i < T; i++) for (let j = 1; j < 5; j++) one[i * T + j] = -Infinity;
    const zero = new Float32Array(T * T);
    // Variant 0 blocks at layer 0 only, variant 1 at layer 2 only.
    const stack = (a: Float32Array, b: Float32Array) => { const o = new Float32Array(2 * T * T); o.set(a); o.set(b, T * T); return o; };
    const batched = await m.run({
      tokens: [seq, seq],
      attentionBias: { 0: { data: stack(one, zero), dims: [2, 1, T, T] }, 2: { data: stack(zero, one), dims: [2, 1, T, T] } },
    });
    const v0 = await m.run({ tokens: [seq], attentionBias: { 0: { data: one, dims: [1, 1, T, T] } } });
    const v1 = await m.run({ tokens: [seq], attentionBias: { 2: { data: one, dims: [1, 1, T, T] } } });
    const rows = [...Array(T).keys()];
    expect(maxDiffRows(logitsRows(batched.logits!, 0, rows), logitsRows(v0.logits!, 0, rows))).toBeLessThan(1e-5);
    expect(maxDiffRows(logitsRows(batched.logits!, 1, rows), logitsRows(v1.logits!, 0, rows))).toBeLessThan(1e-5);
    expect(maxDiffRows(logitsRows(v0.logits!, 0, rows), logitsRows(v1.logits!, 0, rows))).toBeGreaterThan(1e-3);
  });

  it('an all-zero bias at every layer leaves the logits of the unhooked graph unchanged', async () => {
    const m = load('gpt2-opset14');
    const seq = [256, 5, 6, 7, 8, 9];
    const T = seq.length;
    const plain = await m.run({ tokens: [seq] });
    const attentionBias: Record<number, Tensor> = {};
    for (let l = 0; l < m.config.nLayer; l++) attentionBias[l] = { data: new Float32Array(T * T), dims: [1, 1, T, T] };
    const zero = await m.run({ tokens: [seq], attentionBias, hooks: ['blocks.1.attn.hook_pattern'] });
    const rows = [...Array(T).keys()];
    expect(maxDiffRows(logitsRows(zero.logits!, 0, rows), logitsRows(plain.logits!, 0, rows))).toBeLessThan(1e-6);
  });
});

describe('hook requests', () => {
  it('returns exactly the requested subset of hooks', async () => {
    const m = load('gpt2-opset14');
    const hooks = ['blocks.2.attn.hook_pattern', 'blocks.0.hook_resid_pre', 'ln_final.hook_normalized'];
    const r = await m.run({ tokens: [[256, 1, 2]], hooks, logits: false });
    expect([...r.cache.keys()].sort()).toEqual([...hooks].sort());
    expect(r.logits).toBeNull();
  });

  it('logitRows returns exactly those rows of the full logits', async () => {
    for (const name of ['gpt2-past-opset14', 'hf-tiny-llama']) {
      const m = load(name);
      const seq = [256, 3, 1, 4, 1, 5, 9, 2, 6];
      const full = await m.run({ tokens: [seq, seq] });
      const rows = [2, 5, 8];
      const part = await m.run({ tokens: [seq, seq], logitRows: rows });
      expect(part.logits!.dims).toEqual([2, 3, 257]);
      for (const b of [0, 1]) {
        const want = logitsRows(full.logits!, b, rows);
        const got = logitsRows(part.logits!, b, [0, 1, 2]);
        expect(maxDiffRows(got, want), name).toBeLessThan(1e-5);
      }
    }
    await expect(load('gpt2-opset14').run({ tokens: [[1, 2]], logitRows: [2] })).rejects.toThrow(/logitRows: 2 is outside/);
  });

  it('targets returns in-graph log-probabilities equal to log softmax of the logits rows', async () => {
    const m = load('hf-tiny-llama');
    const seq = [256, 7, 8, 9, 10, 11];
    const rows = [1, 3, 4];
    const targets = [[9, 11, 0], [1, 2, 3]];
    const full = await m.run({ tokens: [seq, seq], logitRows: rows });
    const r = await m.run({ tokens: [seq, seq], logitRows: rows, targets, logits: false });
    expect(r.logits).toBeNull();
    expect(r.targetLogprobs!.dims).toEqual([2, 3]);
    const V = 257;
    for (let b = 0; b < 2; b++) {
      for (let k = 0; k < 3; k++) {
        const row = full.logits!.data.subarray((b * 3 + k) * V, (b * 3 + k + 1) * V);
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
        expect(Math.abs(r.targetLogprobs!.data[b * 3 + k] - (row[targets[b][k]] - lse))).toBeLessThan(1e-5);
      }
    }
    await expect(m.run({ tokens: [seq], logitRows: rows, targets: [[1, 2]] })).rejects.toThrow(/targets: must be \[B=1\]\[R=3\]/);
  });

  it('top returns the chosen rows\' most probable tokens, computed in the graph, as topPredictions finds them in the logits', async () => {
    const m = load('hf-tiny-llama');
    const seq = [256, 7, 8, 9, 10, 11];
    const rows = [1, 3, 4];
    const full = await m.run({ tokens: [seq, [256, 3, 3, 3, 3, 3]], logitRows: rows });
    const asked = [0, 2, 4, 5]; // of the B*R = 6 rows, batch-major
    const r = await m.run({ tokens: [seq, [256, 3, 3, 3, 3, 3]], logitRows: rows, top: { rows: asked, k: 4 }, logits: false });
    expect(r.logits).toBeNull();
    expect(r.targetLogprobs).toBeUndefined();
    expect(r.top!.k).toBe(4);
    expect(r.top!.ids).toHaveLength(asked.length * 4);
    const V = 257;
    asked.forEach((row, j) => {
      const want = topPredictions(full.logits!.data.subarray(row * V, (row + 1) * V), 4);
      expect(Array.from(r.top!.ids.subarray(j * 4, (j + 1) * 4))).toEqual(want.map((q) => q.id));
      want.forEach((q, i) => expect(Math.abs(Math.exp(r.top!.logprobs[j * 4 + i]) - q.prob)).toBeLessThan(1e-6));
    });
    await expect(m.run({ tokens: [seq], logitRows: rows, top: { rows: [3], k: 2 } })).rejects.toThrow(/top\.rows: 3 is outside the 3 logits rows/);
    await expect(m.run({ tokens: [seq], logitRows: rows, top: { rows: [0], k: 0 } })).rejects.toThrow(/top\.k: 0/);
  });

  it('rejects an unknown hook name or a layer past the end, naming it', async () => {
    const m = load('gpt2-opset14');
    await expect(m.run({ tokens: [[1, 2]], hooks: ['blocks.0.hook_nonsense'] })).rejects.toThrow(/blocks\.0\.hook_nonsense/);
    await expect(m.run({ tokens: [[1, 2]], hooks: ['blocks.3.hook_resid_pre'] })).rejects.toThrow(/layer 3 does not exist/);
  });

  it('rejects token ids outside the vocabulary and positions outside the context', async () => {
    const m = load('gpt2-opset14');
    await expect(m.run({ tokens: [[1, 999]] })).rejects.toThrow(/tokens: id 999/);
    await expect(m.run({ tokens: [[1, 2]], positionIds: [[0, 64]] })).rejects.toThrow(/positionIds: 64/);
  });

  it('caches the rewritten graph on disk keyed by hook set, sharing one weights file, and reuses it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-cache-'));
    const graph = path.join(FIXTURES, 'gpt2-opset14/onnx/model.onnx');
    const a = HookedModel.load(path.join(FIXTURES, 'gpt2-opset14'), { cacheDir: dir, threads: 1 });
    await a.run({ tokens: [[1, 2]], hooks: ['blocks.0.hook_resid_pre'] });
    await a.run({ tokens: [[1, 2]], hooks: ['blocks.1.hook_resid_pre'] });
    const files = fs.readdirSync(dir).sort();
    const graphs = files.filter((f) => f.endsWith('.onnx'));
    const weights = files.filter((f) => f.endsWith('.weights'));
    expect(graphs).toHaveLength(2);
    expect(weights).toHaveLength(1);
    // Each rewritten graph holds structure only; the weights are stored once for both hook sets.
    for (const g of graphs) expect(fs.statSync(path.join(dir, g)).size).toBeLessThan(0.2 * fs.statSync(graph).size);
    expect(fs.statSync(path.join(dir, weights[0])).size).toBeGreaterThan(0.5 * fs.statSync(graph).size);
    // Reuse means no file is written again (a rewrite goes through a temporary file and a rename: a new inode);
    // the cache only touches the modification time of what it reuses, to order its LRU pruning.
    const inodes = files.map((f) => fs.statSync(path.join(dir, f)).ino);
    const b = HookedModel.load(path.join(FIXTURES, 'gpt2-opset14'), { cacheDir: dir, threads: 1 });
    await b.run({ tokens: [[1, 2]], hooks: ['blocks.0.hook_resid_pre'] });
    expect(fs.readdirSync(dir).sort()).toEqual(files);
    expect(files.map((f) => fs.statSync(path.join(dir, f)).ino)).toEqual(inodes);
    await a.release();
    await b.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lets go of the graph file\'s bytes once a session holds the weights, and reads the file again for a new rewrite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-bytes-'));
    fs.cpSync(path.join(FIXTURES, 'gpt2-past-opset14'), dir, { recursive: true });
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-bytes-cache-'));
    const m = HookedModel.load(dir, { cacheDir: cache, threads: 1 });
    const ref = HookedModel.load(path.join(FIXTURES, 'gpt2-past-opset14'), { cacheDir: cache, threads: 1 });
    try {
      expect(m.holdsGraphBytes).toBe(true);
      const a = await m.run({ tokens: [[1, 2, 3]], hooks: ['blocks.0.hook_resid_pre'] });
      expect(m.holdsGraphBytes).toBe(false);
      // Runs (KV cache, fresh past) and what an analysis asks of the model need nothing more from the file.
      const r = await m.run({ tokens: [[1, 2, 3]], presents: true });
      expect([m.supportsPast, m.layerEntryProblem(), m.analyze().layers.length, m.weightBytes > 0]).toEqual([true, null, m.config.nLayer, true]);
      expect(m.holdsGraphBytes).toBe(false);
      expect(r.presents!.size).toBe(2 * m.config.nLayer);
      // A hook set never rewritten before reads the file again, with the same numbers as a fresh model.
      const b = await m.run({ tokens: [[1, 2, 3]], hooks: ['blocks.1.attn.hook_pattern'] });
      const want = await ref.run({ tokens: [[1, 2, 3]], hooks: ['blocks.1.attn.hook_pattern'] });
      expect(Array.from(b.cache.get('blocks.1.attn.hook_pattern')!.data)).toEqual(Array.from(want.cache.get('blocks.1.attn.hook_pattern')!.data));
      expect(a.cache.get('blocks.0.hook_resid_pre')!.dims).toEqual([1, 3, m.config.dModel]);
      expect(m.holdsGraphBytes).toBe(false);
      // A file replaced on disk after loading is said, not silently mixed with the loaded model's graph cache.
      const f = m.md.graphPath;
      const bytes = fs.readFileSync(f);
      bytes[bytes.length - 1] ^= 1;
      fs.writeFileSync(f, bytes);
      await expect(m.run({ tokens: [[1, 2, 3]], hooks: ['blocks.1.hook_resid_post'] })).rejects.toThrow(/decoder_model\.onnx: the file changed on disk after this model was loaded/);
    } finally {
      await m.release();
      await ref.release();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  it('runs a model whose weights are ONNX external data (as exports over 2 GB are), hooks included', async () => {
    const src = path.join(FIXTURES, 'gpt2-opset14');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-extdata-'));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'golden.json']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    fs.mkdirSync(path.join(dir, 'onnx'));
    const m = decodeModel(fs.readFileSync(path.join(src, 'onnx/model.onnx')));
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const t of m.graph!.initializer!) {
      if (!t.rawData || t.rawData.length < 256) continue;
      chunks.push(t.rawData);
      t.externalData = [
        onnx.StringStringEntryProto.create({ key: 'location', value: 'model.onnx.data' }),
        onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
        onnx.StringStringEntryProto.create({ key: 'length', value: String(t.rawData.length) }),
      ];
      offset += t.rawData.length;
      t.rawData = new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    }
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx.data'), Buffer.concat(chunks));
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx'), encodeModel(m));
    const ext = HookedModel.load(dir, { cacheDir, threads: 1 });
    models.push(ext);
    const g = readGolden(dir);
    const r = await ext.run({ tokens: [g.input_ids], hooks: ['blocks.1.attn.hook_pattern', 'blocks.2.hook_resid_post'] });
    expect(maxAbsDiff(r.logits!, g.logits)).toBeLessThan(TOL);
    expect(maxAbsDiff(r.cache.get('blocks.1.attn.hook_pattern')!, g.pattern[1])).toBeLessThan(TOL);
    const plain = await ext.run({ tokens: [g.input_ids] });
    expect(maxAbsDiff(plain.logits!, g.logits)).toBeLessThan(TOL);
  });
});

describe('fused attention', () => {
  it('com.microsoft Attention is un-fused: attention hooks and biases work (full checks in unfuse.test.ts)', async () => {
    const m = load('fused-attention');
    const r = await m.run({ tokens: [[1, 2, 3]], hooks: ['blocks.0.attn.hook_pattern'] });
    const p = r.cache.get('blocks.0.attn.hook_pattern')!;
    expect(p.dims).toEqual([1, 2, 3, 3]);
    for (let row = 0; row < 6; row++) expect(Math.abs(p.data.subarray(row * 3, row * 3 + 3).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
  });

  it('a fused operator with no un-fusing rule: asking for an attention hook names the op and the file', async () => {
    const dir = path.join(cacheDir, 'packed-attention');
    fs.cpSync(path.join(FIXTURES, 'fused-attention'), dir, { recursive: true });
    const file = path.join(dir, 'onnx/model.onnx');
    const proto = decodeModel(fs.readFileSync(file));
    proto.graph!.node!.find((n) => n.opType === 'Attention')!.opType = 'PackedAttention';
    fs.writeFileSync(file, encodeModel(proto));
    const m = HookedModel.load(dir, { cacheDir, threads: 1 });
    models.push(m);
    await expect(m.run({ tokens: [[1, 2, 3]], hooks: ['blocks.0.attn.hook_pattern'] })).rejects.toThrow(
      /packed-attention\/onnx\/model\.onnx: attention is fused into the operator com\.microsoft\.PackedAttention/,
    );
    const T = 3;
    await expect(m.run({ tokens: [[1, 2, 3]], attentionBias: { 0: { data: new Float32Array(T * T), dims: [1, 1, T, T] } } })).rejects.toThrow(
      /com\.microsoft\.PackedAttention/,
    );
  });

  it('residual-stream hooks still work where the structure allows', async () => {
    const m = load('fused-attention');
    const r = await m.run({ tokens: [[1, 2, 3]], hooks: ['blocks.0.hook_resid_pre', 'blocks.0.hook_resid_mid'] });
    expect(r.cache.get('blocks.0.hook_resid_pre')!.dims).toEqual([1, 3, 16]);
    expect(r.cache.get('blocks.0.hook_resid_mid')!.dims).toEqual([1, 3, 16]);
  });
});

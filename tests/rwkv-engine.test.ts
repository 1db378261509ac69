// The RWKV export (tests/fixtures/models/rwkv-tiny) run through onnxruntime-node equals the PyTorch reference and carries state exactly.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRecurrentConfig, RecurrentModel, recurrentHook, stateRow } from '../server/engine/recurrent-model.js';
import { openModelDir } from '../server/model/model-dir.js';

const DIR = path.resolve(__dirname, 'fixtures/models/rwkv-tiny');
interface Golden {
  input_ids: number[];
  n_layer: number;
  state_size: number;
  vocab: number;
  logits: number[];
  state_out: number[][];
  hook_state_last_layer_pos3: number[];
  hook_resid_post_0: number[];
  split: number;
  logits_after_split: number[];
  state_out_after_split: number[][];
}
const golden = JSON.parse(fs.readFileSync(path.join(DIR, 'golden.json'), 'utf8')) as Golden;
const m = RecurrentModel.load(DIR, { threads: 1 });
afterAll(() => m.release());

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('RWKV engine', () => {
  it('recognises the RWKV config as a recurrent model and the GPT-2 fixtures as not', () => {
    expect(isRecurrentConfig(openModelDir(DIR))).toBe(true);
    expect(isRecurrentConfig(openModelDir(path.resolve(__dirname, 'fixtures/models/gpt2-opset14')))).toBe(false);
  });

  it('gives the PyTorch logits, final states and hooks to 1e-4', async () => {
    const L = golden.n_layer;
    const r = await m.run({ tokens: [golden.input_ids], hooks: [recurrentHook(L - 1, 'hook_state'), recurrentHook(0, 'hook_resid_post')] });
    expect(r.logits!.dims).toEqual([1, golden.input_ids.length, golden.vocab]);
    expect(maxDiff(r.logits!.data, golden.logits)).toBeLessThan(1e-4);
    for (let l = 0; l < L; l++) expect(maxDiff(r.state[l].data, golden.state_out[l])).toBeLessThan(1e-4);
    const hs = r.cache.get(recurrentHook(L - 1, 'hook_state'))!;
    expect(hs.dims).toEqual([1, golden.input_ids.length, golden.state_size]);
    const S = golden.state_size;
    expect(maxDiff(hs.data.subarray(3 * S, 4 * S), golden.hook_state_last_layer_pos3)).toBeLessThan(1e-4);
    expect(maxDiff(r.cache.get(recurrentHook(0, 'hook_resid_post'))!.data, golden.hook_resid_post_0)).toBeLessThan(1e-4);
  });

  it('runs a text in two halves with the state carried over exactly as in one call', async () => {
    const ids = golden.input_ids;
    const k = golden.split;
    const whole = await m.run({ tokens: [ids] });
    const first = await m.run({ tokens: [ids.slice(0, k)] });
    const second = await m.run({ tokens: [ids.slice(k)], state: first.state.map((s) => [stateRow(s, 0)]) });
    const V = golden.vocab;
    expect(maxDiff(second.logits!.data, whole.logits!.data.subarray(k * V))).toBeLessThan(1e-5);
    for (let l = 0; l < golden.n_layer; l++) {
      expect(maxDiff(second.state[l].data, whole.state[l].data)).toBeLessThan(1e-5);
      expect(maxDiff(second.state[l].data, golden.state_out_after_split[l])).toBeLessThan(1e-4);
    }
    expect(maxDiff(second.logits!.data, golden.logits_after_split)).toBeLessThan(1e-4);
  });

  it('runs batch rows from different initial states independently', async () => {
    const ids = golden.input_ids;
    const a = await m.run({ tokens: [ids.slice(0, 5)] });
    const zero = m.zeroState();
    const batch = await m.run({ tokens: [ids.slice(5), ids.slice(5)], state: a.state.map((s, l) => [stateRow(s, 0), zero[l]]) });
    const fromA = await m.run({ tokens: [ids.slice(5)], state: a.state.map((s) => [stateRow(s, 0)]) });
    const fromZero = await m.run({ tokens: [ids.slice(5)] });
    const n = fromA.logits!.data.length;
    expect(maxDiff(batch.logits!.data.subarray(0, n), fromA.logits!.data)).toBeLessThan(1e-5);
    expect(maxDiff(batch.logits!.data.subarray(n), fromZero.logits!.data)).toBeLessThan(1e-5);
    expect(maxDiff(fromA.logits!.data, fromZero.logits!.data)).toBeGreaterThan(1e-3);
  });

  it('names a state row of the wrong size', async () => {
    await expect(m.run({ tokens: [[1, 2]], state: [[new Float32Array(3)], [new Float32Array(3)]] })).rejects.toThrow(/expected 576/);
  });
});

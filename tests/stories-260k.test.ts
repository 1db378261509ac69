// The bundled llama2.c stories260K (models/precache-stories-260k), converted by tools/py/stories260k_convert.py: its
// tokenizer encodes like llama2.c's own encoder, onnxruntime's greedy decoding through the graph's KV cache tells
// llama2.c's documented story, and the engine's hooks equal the converter's PyTorch forward to 1e-4. The goldens in
// tests/fixtures/stories-260k were written by the converter from llama2.c's algorithms (tools/py/llama2c_ref.py).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { HookedModel } from '../server/engine/hooked-model.js';
import { openModelDir } from '../server/model/model-dir.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { BUNDLED_MODELS, DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { allHookNames } from '../shared/hooks.js';
import { maxAbsDiff, type Golden, type Nested } from './helpers/golden.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = path.join(ROOT, 'models/precache-stories-260k');
const GOLDENS = path.join(ROOT, 'tests/fixtures/stories-260k');
// llama2.c's doc/stories260K.md: the story greedy decoding from <s> tells.
const DOCUMENTED_STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(GOLDENS, file), 'utf8')) as T;
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-stories-test-'));
const md = openModelDir(DIR);
const tok = loadTokenizer(md);
const models: HookedModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

describe('the stories260K model folder', () => {
  it('is a Llama with 8 query heads sharing 4 key/value heads, RoPE 10000, RMSNorm 1e-5 and tied embeddings', () => {
    expect(md.config).toMatchObject({ modelType: 'llama', nLayer: 5, nHead: 8, nKvHead: 4, dModel: 64, dHead: 8, nCtx: 512, vocabSize: 512, bosTokenId: 1, eosTokenId: 2 });
    expect(md.config.raw).toMatchObject({ rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: true, intermediate_size: 172 });
    expect(path.basename(md.graphPath)).toBe('model.onnx');
    expect(tok.bosId).toBe(1);
  });

  it('is bundled beside the default model, not as the default', () => {
    expect(BUNDLED_MODELS).toContain(DIR);
    expect(DEFAULT_MODEL_DIR).not.toBe(DIR);
  });

  it('has the graph inputs and outputs Optimum writes for a Llama with a KV cache', async () => {
    const s = await ort.InferenceSession.create(md.graphPath);
    const kv = [0, 1, 2, 3, 4].flatMap((l) => [`${l}.key`, `${l}.value`]);
    expect(s.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', ...kv.map((n) => `past_key_values.${n}`)]);
    expect(s.outputNames).toEqual(['logits', ...kv.map((n) => `present.${n}`)]);
    await s.release();
  });
});

describe('the tokenizer', () => {
  const golden = readJson<{ cases: { text: string; ids: number[] }[] }>('tokenizer-golden.json');

  it('gives llama2.c encoder ids on sentences with punctuation, non-ASCII text, newlines and repeated spaces', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(10);
    for (const c of golden.cases) expect(tok.encode(c.text), JSON.stringify(c.text)).toEqual(c.ids);
  });

  it('decodes its ids back to the text, byte-fallback characters included', () => {
    for (const c of golden.cases) expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.text);
  });

  it('reads a literal U+2581 in the text as a space, like every Hugging Face SentencePiece conversion (run.c would not)', () => {
    expect(tok.encode('\u2581a')).toEqual(tok.encode(' a'));
  });

  it('reads "<s>" typed in the text as the BOS token, like every Hugging Face tokenizer with added tokens (run.c would not)', () => {
    expect(tok.encode('a <s> b')).toContain(1);
  });

  it('gives token texts with their spaces (metaspace), which join to the decoded text', () => {
    const ids = tok.encode('Lily loved to play with her big red ball.');
    const texts = tok.tokenStrings(ids);
    expect(texts.join('')).toBe(tok.decode(ids));
    // 512 pieces: "loved", "red" and "ball" take two tokens each; every word's first piece carries its space.
    expect(texts).toEqual(['Lily', ' lo', 'ved', ' to', ' play', ' with', ' her', ' big', ' r', 'ed', ' b', 'all', '.']);
    expect(tok.tokenText(tok.encode('play').at(-1)!)).toBe(' play');
  });

  it('uses byte fallback for characters outside its 512 pieces (<0xXX> = byte + 3)', () => {
    // "日" is E6 97 A5 in UTF-8; none of its bytes is a piece of its own.
    expect(tok.encode('日')).toEqual([tok.encode(' ')[0], 0xe6 + 3, 0x97 + 3, 0xa5 + 3]);
  });
});

/** One onnxruntime run of the graph: `ids` at positions past..past+n-1 after a cache of `past` positions. */
async function step(s: ort.InferenceSession, ids: number[], past: Record<string, ort.Tensor>, pastLen: number) {
  const n = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + n).fill(1n), [1, pastLen + n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(pastLen + i))), [1, n]),
    ...past,
  };
  const out = await s.run(feeds);
  const next: Record<string, ort.Tensor> = {};
  for (const name of s.outputNames) if (name.startsWith('present.')) next[name.replace('present.', 'past_key_values.')] = out[name];
  return { logits: out.logits, past: next };
}

function emptyPast(): Record<string, ort.Tensor> {
  const past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < 5; l++) for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 8]);
  return past;
}

function argmaxRow(t: ort.Tensor, row: number): number {
  const V = t.dims[2];
  const d = (t.data as Float32Array).subarray(row * V, (row + 1) * V);
  let best = 0;
  for (let i = 1; i < V; i++) if (d[i] > d[best]) best = i;
  return best;
}

describe('greedy decoding with onnxruntime', () => {
  const golden = readJson<{ ids: number[]; text: string }>('greedy-golden.json');

  it("tells llama2.c's documented story from <s>, one token at a time through the KV cache", async () => {
    const s = await ort.InferenceSession.create(md.graphPath);
    let { logits, past } = await step(s, [tok.bosId], emptyPast(), 0);
    const ids: number[] = [];
    for (let pos = 1; ids.length < golden.ids.length; pos++) {
      const next = argmaxRow(logits, 0);
      ids.push(next);
      ({ logits, past } = await step(s, [next], past, pos));
    }
    await s.release();
    expect(ids).toEqual(golden.ids);
    expect(tok.decode(ids).startsWith(DOCUMENTED_STORY)).toBe(true);
  });

  it('gives the same logits for a sequence run at once as for the same sequence split at a cached prefix', async () => {
    const s = await ort.InferenceSession.create(md.graphPath);
    const seq = [tok.bosId, ...golden.ids.slice(0, 20)];
    const whole = await step(s, seq, emptyPast(), 0);
    const head = await step(s, seq.slice(0, 12), emptyPast(), 0);
    const tail = await step(s, seq.slice(12), head.past, 12);
    await s.release();
    const V = 512;
    const wholeTail = (whole.logits.data as Float32Array).subarray(12 * V);
    let d = 0;
    (tail.logits.data as Float32Array).forEach((v, i) => (d = Math.max(d, Math.abs(v - wholeTail[i]))));
    expect(d).toBeLessThan(1e-4);
  });
});

describe('the engine on stories260K', () => {
  const g = readJson<Golden & { text: string }>('golden.json');
  const KEY: Record<string, keyof Golden> = {
    hook_resid_pre: 'resid_pre',
    hook_resid_mid: 'resid_mid',
    hook_resid_post: 'resid_post',
    'attn.hook_pattern': 'pattern',
    'attn.hook_v': 'v',
    'attn.hook_value_norm': 'value_norm',
  };
  const reference = (hook: string): Nested => {
    if (hook === 'logits') return g.logits;
    if (hook === 'ln_final.hook_normalized') return g.ln_final;
    const m = /^blocks\.(\d+)\.(.*)$/.exec(hook)!;
    return (g[KEY[m[2]]] as Nested[])[Number(m[1])];
  };

  it('tokenizes the golden text as the converter did', () => {
    expect([tok.bosId, ...tok.encode(g.text)]).toEqual(g.input_ids);
  });

  it('gives every hook equal to the PyTorch reference to 1e-4', async () => {
    const m = HookedModel.load(DIR, { cacheDir, threads: 1 });
    models.push(m);
    const hooks = allHookNames(m.config.nLayer);
    const r = await m.run({ tokens: [g.input_ids], positionIds: [g.position_ids], hooks });
    expect([...r.cache.keys()].sort()).toEqual([...hooks].sort());
    for (const [hook, t] of r.cache) expect(maxAbsDiff(t, reference(hook)), hook).toBeLessThan(1e-4);
    // hook_v holds each query head's values: heads 2k and 2k+1 share key/value head k.
    const v = r.cache.get('blocks.0.attn.hook_v')!;
    expect(v.dims).toEqual([1, g.input_ids.length, 8, 8]);
    expect(Array.from(v.data.subarray(0, 8))).toEqual(Array.from(v.data.subarray(8, 16)));
  });
});

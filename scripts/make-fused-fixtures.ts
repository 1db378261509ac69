// Writes the fused-attention test fixtures: one tiny random GPT-2 exported eagerly and with each fused form.
//
//   npx tsx scripts/make-fused-fixtures.ts [--out tests/fixtures/models]
//
// Every directory holds the same weights (scripts/make-random-gpt2.ts, seed 7, std 0.3, 2 layers, d 32, 2 heads,
// ctx 64, vocab 257, the fixtures' byte tokenizer) and a golden.json with the eager graph's logits for one input,
// computed by onnxruntime-node, so a fused fixture that stopped matching its eager twin is caught.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { writeRandomGpt2, type GraphOptions } from './make-random-gpt2.js';
import { TINY_LLAMA, buildLlamaOnnx, randomLlamaWeights, writeRandomLlama, type LlamaAttention } from './make-random-llama.js';
import { quantize, writePrecisionVariants } from './make-precision-fixtures.js';
import onnxProto from 'onnx-proto';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const FUSED_SHAPE = { nLayer: 2, nHead: 2, dModel: 32, nCtx: 64, vocabSize: 257, std: 0.3, seed: 7, opset: 17 as const };

/** Fixture directory name -> how its graph is built. */
export const FUSED_FIXTURES: Record<string, GraphOptions> = {
  'gpt2-tiny-eager': { attention: 'eager', past: true },
  'gpt2-tiny-ort-attention': { attention: 'ms-attention', skipNorms: true },
  'gpt2-tiny-ort-mha': { attention: 'ms-mha', past: true },
  'gpt2-tiny-onnx-attention': { attention: 'onnx-attention', past: true },
};

/** The tiny Llama (4 heads, 2 kv heads, d 64, head size 16: GroupQueryAttention's CPU kernel needs a multiple of 16). */
export const LLAMA_FIXTURES: Record<string, LlamaAttention> = {
  'llama-tiny-eager': 'eager',
  'llama-tiny-gqa-rotary': 'gqa-rotary',
  'llama-tiny-rotary-gqa': 'rotary-gqa',
};
export const LLAMA_SEED = 11;

/**
 * An onnxruntime-genai style folder (genai_config.json, model.onnx, tokenizer.json; no config.json): the tiny Llama
 * as the genai model builder writes it for int4 CPU: SkipSimplifiedLayerNormalization, GroupQueryAttention with
 * rotary, MatMulNBits. Its un-quantised-structure twin is llama-tiny-q4 (the eager Llama through the same q4 step).
 */
export const GENAI_FIXTURE = 'llama-tiny-genai-int4';

export function writeGenaiFixture(out: string): string {
  const dir = path.join(out, GENAI_FIXTURE);
  fs.mkdirSync(dir, { recursive: true });
  const m = buildLlamaOnnx(TINY_LLAMA, randomLlamaWeights(TINY_LLAMA, LLAMA_SEED), 'gqa-rotary', true);
  quantize(m, 'q4');
  fs.writeFileSync(path.join(dir, 'model.onnx'), onnxProto.onnx.ModelProto.encode(m).finish());
  fs.copyFileSync(path.join(REPO, 'tests/fixtures/models/gpt2-opset14/tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const s = TINY_LLAMA;
  const genai = {
    model: {
      bos_token_id: 256,
      eos_token_id: 256,
      context_length: s.nCtx,
      vocab_size: s.vocabSize,
      type: 'llama',
      decoder: {
        filename: 'model.onnx',
        head_size: s.dModel / s.nHead,
        hidden_size: s.dModel,
        num_attention_heads: s.nHead,
        num_hidden_layers: s.nLayer,
        num_key_value_heads: s.nKvHead,
        inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', position_ids: 'position_ids', past_key_names: 'past_key_values.%d.key', past_value_names: 'past_key_values.%d.value' },
        outputs: { logits: 'logits', present_key_names: 'present.%d.key', present_value_names: 'present.%d.value' },
        session_options: { provider_options: [] },
      },
    },
    search: { max_length: s.nCtx },
  };
  fs.writeFileSync(path.join(dir, 'genai_config.json'), JSON.stringify(genai, null, 2) + '\n');
  return dir;
}

/** BOS + the UTF-8 bytes of "Hello, world!\nA" (as the other fixtures' goldens). */
export const GOLDEN_INPUT = [256, ...Buffer.from('Hello, world!\nA', 'utf8')];

async function eagerLogits(dir: string, kvHeads: number, dh: number, V: number): Promise<number[][]> {
  const s = await ort.InferenceSession.create(path.join(dir, 'onnx/model.onnx'));
  const T = GOLDEN_INPUT.length;
  const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);
  const feeds: Record<string, ort.Tensor> = {
    input_ids: i64(GOLDEN_INPUT),
    position_ids: i64(GOLDEN_INPUT.map((_, i) => i)),
    attention_mask: i64(GOLDEN_INPUT.map(() => 1)),
  };
  for (const n of s.inputNames) if (n.startsWith('past_key_values.')) feeds[n] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, dh]);
  const out = await s.run(feeds, ['logits']);
  const data = out.logits.data as Float32Array;
  await s.release();
  return Array.from({ length: T }, (_, t) => Array.from(data.subarray(t * V, (t + 1) * V), (x) => Math.round(x * 1e7) / 1e7));
}

async function main() {
  const i = process.argv.indexOf('--out');
  const out = path.resolve(i > 0 ? process.argv[i + 1] : path.join(REPO, 'tests/fixtures/models'));
  const tokenizerFrom = path.join(REPO, 'tests/fixtures/models/gpt2-opset14');
  let golden: number[][] | null = null;
  for (const [name, graph] of Object.entries(FUSED_FIXTURES)) {
    const dir = path.join(out, name);
    const r = writeRandomGpt2({ out: dir, ...FUSED_SHAPE, tokenizerFrom, graph });
    // generator.json names the tokenizer source relative to the repository, so the committed file is machine-neutral.
    const gen = JSON.parse(fs.readFileSync(path.join(dir, 'generator.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'generator.json'), JSON.stringify({ ...gen, tokenizerFrom: path.relative(REPO, tokenizerFrom) }, null, 2) + '\n');
    golden ??= await eagerLogits(dir, FUSED_SHAPE.nHead, FUSED_SHAPE.dModel / FUSED_SHAPE.nHead, FUSED_SHAPE.vocabSize);
    const g = { source: 'onnxruntime-node on gpt2-tiny-eager (the eager export of the same weights)', input_ids: GOLDEN_INPUT, logits: golden };
    fs.writeFileSync(path.join(dir, 'golden.json'), JSON.stringify(g) + '\n');
    console.log(`wrote ${dir} (${(r.graphBytes / 1024).toFixed(0)} KiB graph)`);
  }
  let llamaGolden: number[][] | null = null;
  for (const [name, kind] of Object.entries(LLAMA_FIXTURES)) {
    const dir = path.join(out, name);
    const f = writeRandomLlama(dir, kind, LLAMA_SEED);
    llamaGolden ??= await eagerLogits(dir, TINY_LLAMA.nKvHead, TINY_LLAMA.dModel / TINY_LLAMA.nHead, TINY_LLAMA.vocabSize);
    const g = { source: 'onnxruntime-node on llama-tiny-eager (the eager export of the same weights)', input_ids: GOLDEN_INPUT, logits: llamaGolden };
    fs.writeFileSync(path.join(dir, 'golden.json'), JSON.stringify(g) + '\n');
    console.log(`wrote ${dir} (${(fs.statSync(f).size / 1024).toFixed(0)} KiB graph)`);
  }
  for (const d of writePrecisionVariants(path.join(out, 'llama-tiny-eager'), out, ['fp16', 'q8', 'q4'])) console.log(`wrote ${d}`);
  const genai = writeGenaiFixture(out);
  const q4 = await eagerLogits(path.join(out, 'llama-tiny-q4'), TINY_LLAMA.nKvHead, TINY_LLAMA.dModel / TINY_LLAMA.nHead, TINY_LLAMA.vocabSize);
  const g = { source: 'onnxruntime-node on llama-tiny-q4 (the eager Llama through the same 4-bit quantisation)', input_ids: GOLDEN_INPUT, logits: q4 };
  fs.writeFileSync(path.join(genai, 'golden.json'), JSON.stringify(g) + '\n');
  console.log(`wrote ${genai}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}

// Prints, per model, how the workbench's analysis compares with onnxruntime-node's own runs of the user's graph:
//
//   npx tsx scripts/third-party-report.ts [GRAPH_OR_DIR ...] [--prompt TEXT] [--input TEXT]
//
// Default models: the third-party fixtures (tests/fixtures/models: genai-*, gpt2model-last-state is left out as its
// graph has no logits, *-dynamic-int8). For each: the largest |loss - onnxruntime's loss| over the input tokens with
// the prompt ([BOS] + P' + X run whole) and without it ([BOS] + X at X's natural positions), the knockout identity's
// residual |K(all layers) - mean benefit|, and the engine calls of the analysis.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { analyze } from '../server/analysis/analyze.js';
import { clearRunCaches } from '../server/analysis/execute.js';
import { HookedModel } from '../server/engine/hooked-model.js';
import { decodeModel, num, TensorType } from '../server/engine/onnx-graph.js';
import { loadTokenizer } from '../server/model/tokenizer.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const F = path.join(REPO, 'tests/fixtures/models');
const DEFAULTS = ['genai-gpt2-attention', 'genai-llama-gqa', 'genai-phi3-packed-gqa', 'gpt2-tiny-dynamic-int8/onnx/model_quantized.onnx', 'llama-tiny-dynamic-int8/onnx/model_quantized.onnx'].map((d) => path.join(F, d));

/** Logits [T, V] of onnxruntime's own run of the graph on one whole sequence at positions 0..T-1 (empty pasts). */
async function ortLogits(graph: string, tokens: number[]): Promise<{ data: Float32Array; V: number }> {
  const m = decodeModel(fs.readFileSync(graph));
  const T = tokens.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const vi of m.graph!.input ?? []) {
    const name = vi.name!;
    const int32 = vi.type!.tensorType!.elemType === TensorType.INT32;
    const dims = (vi.type!.tensorType!.shape?.dim ?? []).map((d) => (d.dimValue != null ? num(d.dimValue) : -1));
    const ints = (v: number[]) => (int32 ? new ort.Tensor('int32', Int32Array.from(v), [1, T]) : new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, T]));
    if (name === 'input_ids') feeds[name] = ints(tokens);
    else if (name === 'position_ids') feeds[name] = ints(tokens.map((_, i) => i));
    else if (name === 'attention_mask') feeds[name] = ints(tokens.map(() => 1));
    else if (name.startsWith('past_key_values.')) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, dims[1], 0, dims[3]]);
    else if (/^past_\d+$/.test(name)) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [2, 1, dims[2], 0, dims[4]]);
  }
  const s = await ort.InferenceSession.create(graph, { intraOpNumThreads: 1 });
  const out = (await s.run(feeds, ['logits'])).logits;
  await s.release();
  return { data: out.data as Float32Array, V: Number(out.dims[2]) };
}

function loss(l: { data: Float32Array; V: number }, row: number, target: number): number {
  const r = l.data.subarray(row * l.V, (row + 1) * l.V);
  let max = -Infinity;
  for (const x of r) max = Math.max(max, x);
  let s = 0;
  for (const x of r) s += Math.exp(x - max);
  return max + Math.log(s) - r[target];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(k);
    if (i < 0) return d;
    const v = argv[i + 1];
    argv.splice(i, 2);
    return v;
  };
  const prompt = opt('--prompt', 'Hello, ');
  const input = opt('--input', 'world!\nAbc');
  const models = argv.length ? argv.map((a) => path.resolve(a)) : DEFAULTS;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-third-party-report-'));
  try {
    for (const dir of models) {
      clearRunCaches();
      const m = HookedModel.load(dir, { cacheDir, threads: 1 });
      const tok = loadTokenizer(m.md);
      const r = await analyze(m, tok, { modelId: path.basename(dir), prompt, input });
      const x = r.input.tokens.map((t) => t.id);
      const seq = [r.bos.id, ...r.prompt.tokens.map((t) => t.id), ...x];
      const withRun = await ortLogits(m.md.graphPath, seq);
      const natural = await ortLogits(m.md.graphPath, [r.bos.id, ...x]);
      const dWith = Math.max(...x.map((t, i) => Math.abs(r.input.tokens[i].lossWithPrompt - loss(withRun, r.p + i, t))));
      const dNat = Math.max(...x.map((t, i) => Math.abs(r.input.tokens[i].lossNoPromptNatural - loss(natural, i, t))));
      const dyn = m.activationScalesPerCall() ? 'dynamic int8: whole sequences, scale-blocking knockouts' : 'fast path';
      console.log(
        `${path.relative(REPO, dir)} [${dyn}]: mean loss with prompt ${r.summary.meanLossWithPrompt.toFixed(5)}; ` +
          `max |loss - onnxruntime| with prompt ${dWith.toExponential(2)}, natural no-prompt ${dNat.toExponential(2)}; ` +
          `identity residual ${r.summary.identityResidual.toExponential(2)} (mean benefit ${r.summary.meanBenefitRead.toFixed(4)}); ${r.timings.engineCalls} engine calls`,
      );
      await m.release();
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});

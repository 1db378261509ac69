// Measures the bundled stories260K (models/precache-stories-260k) through the project's ONNX engine, fp32 on CPU, for
// its model card, and writes the numbers to its eval.json:
//   heldOut  next-token loss on the stories-written input set (twelve whole stories written for the project, never
//            TinyStories text): each story as [BOS] + story at positions 0..n, every token after BOS predicted once,
//            pooled over all stories' tokens (and per story).
//   repeat   in-context repeat test: 20 sequences of 50 ids uniform over the merged pieces [259, 512) (mulberry32
//            seed 1234), each fed as BOS + seq + seq; mean loss on the first copy and on the second.
//   repeatStories  the same on text the model knows how to read: each story of stories-written fed twice in a row
//            ([BOS] + story + story); mean loss on the first copy and on the second, pooled over tokens.
//   greedy   greedy decoding from <s> alone, 120 tokens (llama2.c's check).
//
//   npx tsx scripts/eval-stories-260k.ts [--json models/precache-stories-260k/eval.json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HookedModel } from '../server/engine/hooked-model.js';
import { openModelDir } from '../server/model/model-dir.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { inputSets } from '../server/experiments/input-sets.js';
import { addCrossEntropy, generate, meanRange } from './lib/lm-eval.js';
import { mulberry32 } from '../shared/random.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = path.join(ROOT, 'models/precache-stories-260k');
export const STORY_SET = 'stories-written';
export const REPEAT = { sequences: 20, length: 50, lo: 259, hi: 512, seed: 1234 };

/** Pooled next-token loss of each text as [BOS] + text, through the engine; also each text's own mean. */
export async function storyLoss(model: HookedModel, bos: number, texts: number[][]): Promise<{ loss: number; tokens: number; perStory: number[] }> {
  let total = 0;
  let count = 0;
  const perStory: number[] = [];
  for (const ids of texts) {
    const seq = [bos, ...ids];
    const r = await model.run({ tokens: [seq.slice(0, -1)], logits: true });
    const sum = new Float64Array(seq.length - 1);
    const cnt = new Float64Array(seq.length - 1);
    addCrossEntropy(r.logits!, [seq.slice(1)], sum, cnt);
    const s = sum.reduce((a, b) => a + b, 0);
    total += s;
    count += ids.length;
    perStory.push(s / ids.length);
  }
  return { loss: total / count, tokens: count, perStory };
}

async function main() {
  const args = process.argv.slice(2);
  const jsonOut = args[0] === '--json' ? args[1] : null;
  const md = openModelDir(DIR);
  const tok = loadTokenizer(md);
  const model = HookedModel.load(DIR, { threads: Math.min(2, os.cpus().length) });
  const round = (x: number) => Math.round(x * 1e4) / 1e4;

  const stories = inputSets().get(STORY_SET)!.passages.map((p) => tok.encode(p.text));
  const held = await storyLoss(model, tok.bosId, stories);
  console.log(`held-out loss (${STORY_SET}, ${stories.length} stories, ${held.tokens} tokens): ${held.loss.toFixed(4)} nats/token (perplexity ${Math.exp(held.loss).toFixed(2)}; uniform ${Math.log(md.config.vocabSize).toFixed(4)})`);

  const rand = mulberry32(REPEAT.seed);
  const L = REPEAT.length;
  const rows = Array.from({ length: REPEAT.sequences }, () => {
    const seq = Array.from({ length: L }, () => REPEAT.lo + Math.floor(rand() * (REPEAT.hi - REPEAT.lo)));
    return [tok.bosId, ...seq, ...seq];
  });
  const r = await model.run({ tokens: rows.map((x) => x.slice(0, -1)), logits: true });
  const sum = new Float64Array(2 * L);
  const cnt = new Float64Array(2 * L);
  addCrossEntropy(r.logits!, rows.map((x) => x.slice(1)), sum, cnt);
  const perPos = Array.from(sum, (x, i) => x / cnt[i]);
  const first = meanRange(perPos, 0, L);
  const second = meanRange(perPos, L, 2 * L);
  console.log(`repeat test: first copy ${first.toFixed(4)}, second copy ${second.toFixed(4)} nats/token (uniform over the drawn ids ${Math.log(REPEAT.hi - REPEAT.lo).toFixed(4)})`);

  let firstSum = 0;
  let secondSum = 0;
  let storyTokens = 0;
  for (const ids of stories) {
    const seq = [tok.bosId, ...ids, ...ids];
    const rr = await model.run({ tokens: [seq.slice(0, -1)], logits: true });
    const s2 = new Float64Array(seq.length - 1);
    const c2 = new Float64Array(seq.length - 1);
    addCrossEntropy(rr.logits!, [seq.slice(1)], s2, c2);
    firstSum += meanRange(s2, 0, ids.length) * ids.length;
    secondSum += meanRange(s2, ids.length, 2 * ids.length) * ids.length;
    storyTokens += ids.length;
  }
  const storyFirst = firstSum / storyTokens;
  const storySecond = secondSum / storyTokens;
  console.log(`repeat test on the stories: first copy ${storyFirst.toFixed(4)}, second copy ${storySecond.toFixed(4)} nats/token`);

  const greedyIds = await generate(model, [tok.bosId], { steps: 120, ctx: md.config.nCtx, temperature: 0, topK: 1, seed: 1 });
  const story = tok.decode(greedyIds);
  console.log(`greedy from <s>: ${story}`);
  await model.release();

  if (jsonOut) {
    const out = {
      model: 'precache-stories-260k',
      engine: { runtime: 'onnxruntime-node', precision: 'fp32', node: process.version },
      date: new Date().toISOString().slice(0, 10),
      heldOut: { set: STORY_SET, stories: stories.length, tokens: held.tokens, loss: round(held.loss), lossExact: held.loss, perplexity: round(Math.exp(held.loss)), perStory: held.perStory.map(round), uniform: round(Math.log(md.config.vocabSize)) },
      repeat: { ...REPEAT, firstCopy: round(first), secondCopy: round(second) },
      repeatStories: { set: STORY_SET, tokens: storyTokens, firstCopy: round(storyFirst), secondCopy: round(storySecond) },
      greedy: { steps: 120, text: story },
    };
    fs.writeFileSync(jsonOut, `${JSON.stringify(out, null, 1)}\n`);
    console.log(`wrote ${jsonOut}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

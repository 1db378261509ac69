// A search's variants from its request: a list of prompts, a template with alternatives, or ablations of a prompt.
// Every variant is an ordinary marked prompt (shared/metrics/spans.ts), so it opens as a run.
import { InputError } from './errors.js';
import { mulberry32 } from './random.js';
import { parseMarkedPrompt, sentenceOfChars } from './metrics/spans.js';
import { MAX_ALTERNATIVES, MAX_SEARCH_VARIANTS, type SearchVariant, type SearchVariantsRequest } from './search.js';

/** One piece of a template: raw marked-prompt text copied as is, or a marker with its alternatives. */
type Piece =
  | { kind: 'text'; raw: string }
  | {
      kind: 'marker';
      /** The marker exactly as written (used when it has one alternative, so existing prompts keep their text). */
      raw: string;
      /** The name as written, or null for an unnamed marker. */
      name: string | null;
      /** Each alternative's raw marked-prompt text ('' = leave the span out). */
      alternatives: string[];
    };

function where(raw: string, pos: number): string {
  const before = raw.slice(0, pos);
  const line = before.split('\n').length;
  return `character ${pos} (line ${line}, column ${pos - (before.lastIndexOf('\n') + 1) + 1})`;
}

/**
 * Splits a template into text and markers. The marker grammar is the marked prompt's (`{{name|text}}`, `{{text}}`,
 * `\{{` and `\}}` literal); inside a marker `||` separates alternatives and `\||` is a literal `||`. A marker's name
 * is what precedes its first single `|` on its first line; when that `|` starts a `||`, the marker is unnamed.
 * With `alternatives` false (ablation of a plain prompt), `||` is ordinary text.
 */
function parseTemplate(raw: string, alternatives: boolean, field: string): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  let i = 0;
  while (i < raw.length) {
    if (raw[i] === '\\' && (raw.startsWith('{{', i + 1) || raw.startsWith('}}', i + 1))) {
      text += raw.slice(i, i + 3);
      i += 3;
    } else if (raw.startsWith('}}', i)) {
      throw new InputError(`'}}' at ${where(raw, i)} closes no span (no '{{' before it)`, field);
    } else if (raw.startsWith('{{', i)) {
      if (text) pieces.push({ kind: 'text', raw: text });
      text = '';
      const start = i;
      let j = i + 2;
      // The name: up to the first '|' on the marker's first line, unless that '|' begins '||'.
      let name: string | null = null;
      for (let k = j; k < raw.length; k++) {
        const c = raw[k];
        if (c === '\n' || raw.startsWith('{{', k) || raw.startsWith('}}', k) || (c === '\\' && /^\\(\{\{|\}\}|\|\|)/.test(raw.slice(k, k + 3)))) break;
        if (c === '|') {
          if (!(alternatives && raw[k + 1] === '|')) {
            name = raw.slice(j, k).trim();
            if (name === '') throw new InputError(`empty span name before '|' in the span at ${where(raw, start)}`, field);
            j = k + 1;
          }
          break;
        }
      }
      const alts: string[] = [''];
      let closed = false;
      while (j < raw.length) {
        if (raw[j] === '\\' && (raw.startsWith('{{', j + 1) || raw.startsWith('}}', j + 1))) {
          alts[alts.length - 1] += raw.slice(j, j + 3);
          j += 3;
        } else if (alternatives && raw.startsWith('\\||', j)) {
          alts[alts.length - 1] += '||';
          j += 3;
        } else if (alternatives && raw.startsWith('||', j)) {
          alts.push('');
          j += 2;
        } else if (raw.startsWith('{{', j)) {
          throw new InputError(`'{{' at ${where(raw, j)} opens a span inside the span opened at ${where(raw, start)}; spans cannot nest`, field);
        } else if (raw.startsWith('}}', j)) {
          closed = true;
          j += 2;
          break;
        } else {
          alts[alts.length - 1] += raw[j];
          j += 1;
        }
      }
      if (!closed) throw new InputError(`'{{' at ${where(raw, start)} is never closed with '}}'`, field);
      if (alts.length > MAX_ALTERNATIVES) throw new InputError(`the span at ${where(raw, start)} has ${alts.length} alternatives, more than the cap of ${MAX_ALTERNATIVES}`, field);
      if (alts.length === 1 && alts[0] === '') throw new InputError(`the span at ${where(raw, start)} is empty`, field);
      pieces.push({ kind: 'marker', raw: raw.slice(start, j), name, alternatives: alts });
      i = j;
    } else {
      text += raw[i];
      i += 1;
    }
  }
  if (text) pieces.push({ kind: 'text', raw: text });
  return pieces;
}

/**
 * Joins raw pieces; a left-out piece (null) takes one space with it when it sat between whitespace (or the start of
 * the text) and a space, so "A. {{x|B.}} C." without x reads "A. C.", not "A.  C.".
 */
function join(parts: (string | null)[]): string {
  let out = '';
  let skipSpace = false;
  for (const part of parts) {
    if (part === null) {
      skipSpace = out === '' || /\s$/.test(out);
      continue;
    }
    let s = part;
    if (skipSpace && s.startsWith(' ')) s = s.slice(1);
    skipSpace = false;
    out += s;
  }
  return out;
}

function checkVariant(text: string, field: string, what: string): void {
  let marked;
  try {
    marked = parseMarkedPrompt(text);
  } catch (e) {
    throw new InputError(`${what}: ${(e as Error).message}`, field);
  }
  if (marked.text.trim() === '') throw new InputError(`${what} is empty; every variant needs a prompt`, field);
}

const short = (s: string, n = 24) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
};

/** Expands a template to the product of its alternatives (the first marker varies slowest); refused above the cap. */
export function expandTemplate(template: string, field = 'variants.template'): SearchVariant[] {
  const pieces = parseTemplate(template, true, field);
  const markers = pieces.flatMap((p, k) => (p.kind === 'marker' ? [{ p, k }] : []));
  const varying = markers.filter(({ p }) => p.kind === 'marker' && p.alternatives.length > 1);
  if (!varying.length) throw new InputError('the template has no span with alternatives; write them as {{name|first||second}}', field);
  let count = 1;
  for (const { p } of varying) {
    if (p.kind !== 'marker') continue;
    count *= p.alternatives.length;
    if (count > MAX_SEARCH_VARIANTS) throw new InputError(`the template expands to more than ${MAX_SEARCH_VARIANTS} variants (the variant cap); use fewer alternatives`, field);
  }
  // Unnamed spans with alternatives get the name the marked-prompt grammar would give them: seg{k}, k their place.
  const nameOf = new Map<number, string>();
  markers.forEach(({ p, k }, idx) => {
    if (p.kind === 'marker') nameOf.set(k, p.name ?? `seg${idx + 1}`);
  });
  const out: SearchVariant[] = [];
  for (let v = 0; v < count; v++) {
    const choice = new Map<number, number>();
    let rest = v;
    for (let m = varying.length - 1; m >= 0; m--) {
      const p = varying[m].p as Extract<Piece, { kind: 'marker' }>;
      choice.set(varying[m].k, rest % p.alternatives.length);
      rest = Math.floor(rest / p.alternatives.length);
    }
    const label: string[] = [];
    const parts = pieces.map((p, k): string | null => {
      if (p.kind === 'text') return p.raw;
      const c = choice.get(k);
      if (c === undefined) return p.raw;
      const alt = p.alternatives[c];
      label.push(`${nameOf.get(k)}=${alt === '' ? '(left out)' : short(alt, 20)}`);
      return alt === '' ? null : `{{${nameOf.get(k)}|${alt}}}`;
    });
    const text = join(parts);
    checkVariant(text, field, `variant ${v + 1} (${label.join(', ')})`);
    out.push({ text, label: label.join(', ') });
  }
  return out;
}

/** The marker-free text with `{{` and `}}` escaped, as a marked prompt. */
function escapeMarked(text: string): string {
  return text.replace(/\{\{/g, '\\{{').replace(/\}\}/g, '\\}}');
}

/** The sentences of a plain text: [start, end) of each, by the rule span splitting uses (sentenceOfChars). */
function sentenceRanges(text: string): [number, number][] {
  const of = sentenceOfChars(text);
  const ranges: [number, number][] = [];
  for (let c = 0; c < text.length; c++) {
    const s = of[c];
    if (s < 0) continue;
    if (ranges[s]) ranges[s][1] = c + 1;
    else ranges[s] = [c, c + 1];
  }
  return ranges;
}

/**
 * Ablations of a prompt: the prompt as written, then each marked span left out in turn (without marks: each
 * sentence), then `reorder` seeded reorderings of its sentences (distinct, never the original order).
 */
export function ablations(prompt: string, reorder = 0, seed = 1, field = 'variants.ablate'): SearchVariant[] {
  const marked = (() => {
    try {
      return parseMarkedPrompt(prompt);
    } catch (e) {
      throw new InputError((e as Error).message, field);
    }
  })();
  if (marked.text.trim() === '') throw new InputError('the prompt is empty', field);
  const out: SearchVariant[] = [{ text: prompt, label: 'as written' }];
  if (marked.segments.length) {
    if (reorder > 0) throw new InputError('reordering is for prompts without marked spans (it moves sentences, which may cut a span)', 'variants.reorder');
    const pieces = parseTemplate(prompt, false, field);
    const markerIdx = pieces.flatMap((p, k) => (p.kind === 'marker' ? [k] : []));
    markerIdx.forEach((k, m) => {
      const text = join(pieces.map((p, j) => (j === k ? null : p.raw)));
      out.push({ text, label: `without ${marked.segments[m].name}` });
    });
  } else {
    const text = marked.text;
    const ranges = sentenceRanges(text);
    if (ranges.length < 2) throw new InputError('the prompt has one sentence and no marked spans, so there is nothing to leave out; mark spans with {{name|text}}', field);
    if (1 + ranges.length + reorder > MAX_SEARCH_VARIANTS) {
      throw new InputError(`${ranges.length} sentences${reorder ? ` and ${reorder} reorderings` : ''} make more than ${MAX_SEARCH_VARIANTS} variants (the variant cap)`, field);
    }
    ranges.forEach(([s, e], k) => {
      out.push({ text: escapeMarked(join([text.slice(0, s), null, text.slice(e)])), label: `without sentence ${k + 1} (${short(text.slice(s, e), 20)})` });
    });
    if (reorder > 0) {
      const seps = ranges.map(([, e], k) => text.slice(e, k + 1 < ranges.length ? ranges[k + 1][0] : text.length));
      const head = text.slice(0, ranges[0][0]);
      const sentences = ranges.map(([s, e]) => text.slice(s, e));
      let possible = 1;
      for (let k = 2; k <= ranges.length; k++) possible = Math.min(possible * k, 1e9);
      const want = Math.min(reorder, possible - 1);
      const rand = mulberry32(seed);
      const seen = new Set([sentences.map((_, k) => k).join(' ')]);
      // Bounded: at most 50 draws per reordering asked for (distinct ones are found quickly unless few exist).
      for (let tries = 0; seen.size - 1 < want && tries < 50 * reorder; tries++) {
        const order = sentences.map((_, k) => k);
        for (let k = order.length - 1; k > 0; k--) {
          const j = Math.floor(rand() * (k + 1));
          [order[k], order[j]] = [order[j], order[k]];
        }
        const key = order.join(' ');
        if (seen.has(key)) continue;
        seen.add(key);
        const body = order.map((o, k) => sentences[o] + seps[k]).join('');
        out.push({ text: escapeMarked(head + body), label: `order ${order.map((o) => o + 1).join(' ')}` });
      }
    }
  }
  if (out.length > MAX_SEARCH_VARIANTS) throw new InputError(`${out.length} variants, more than the cap of ${MAX_SEARCH_VARIANTS}`, field);
  out.forEach((v, k) => checkVariant(v.text, field, `variant ${k + 1} (${v.label})`));
  return out;
}

/** The variants a request asks for (throws InputError naming the field). */
export function searchVariants(req: SearchVariantsRequest, seed = 1): SearchVariant[] {
  if (req.prompts) {
    return req.prompts.map((p, k) => {
      const text = typeof p === 'string' ? p : p.text;
      const label = typeof p === 'string' ? `P${k + 1}` : (p.label ?? `P${k + 1}`);
      checkVariant(text, `variants.prompts.${k}`, `prompt ${k + 1}`);
      return { text, label };
    });
  }
  if (req.template !== undefined) return expandTemplate(req.template);
  if (req.ablate !== undefined) return ablations(req.ablate, req.reorder ?? 0, seed);
  throw new InputError('give exactly one of prompts, template or ablate', 'variants');
}

// Prompt spans (tokens, words, lines, user-marked segments) and the attention-bias masks that block X -> span.
import { checkCounts } from './tensor.js';

/** How a prompt is cut into spans by splitSpans. */
export type SplitMode = 'tokens' | 'words' | 'sentences' | 'lines' | 'marked';
/** What a request may ask for: a split mode, or `auto` (the analysis picks; see server/analysis/plan.ts). */
export type SpanMode = SplitMode | 'auto';
export const SPAN_MODES: readonly SpanMode[] = ['auto', 'tokens', 'words', 'sentences', 'lines', 'marked'];

/** A token's [start, end) in the prompt text, as JS string indices (UTF-16 code units). */
export type TokenOffset = readonly [number, number];

/** A contiguous range of prompt tokens [tokenStart, tokenEnd), indexed 0..p-1 (prompt token k sits at position k+1). */
export interface TokenRange {
  tokenStart: number;
  tokenEnd: number;
}

export interface Span extends TokenRange {
  label: string;
  /** [charStart, charEnd) in the prompt text. */
  charStart: number;
  charEnd: number;
}

export interface MarkedSegment {
  name: string;
  /** [charStart, charEnd) in the marker-free text. */
  charStart: number;
  charEnd: number;
}

export interface MarkedPrompt {
  /** The prompt with markers removed: the only text the model sees. */
  text: string;
  segments: MarkedSegment[];
}

/** "character 12 (line 2, column 3)": a 0-based offset for code, a 1-based line:column for editors. */
function describePosition(raw: string, pos: number): string {
  const before = raw.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - (before.lastIndexOf('\n') + 1) + 1;
  return `character ${pos} (line ${line}, column ${column})`;
}

/**
 * Parses a prompt with marked segments. Syntax: `{{name|text}}` marks `text` as a segment called `name`;
 * `{{text}}` marks an unnamed one, called seg{k} after its 1-based place among all segments. The name is what
 * precedes the first `|` on the marker's first line (trimmed); so an unnamed segment whose text contains `|` needs
 * a name. `\{{` and `\}}` stand for literal `{{` and `}}`; single braces and other backslashes are literal.
 * Markers are read left to right, so `{{{x}}}` is the segment `{x` followed by `}`.
 * Throws an Error naming the position in `raw` for a `}}` with no `{{`, a `{{` inside a segment (nesting), a `{{`
 * never closed, an empty name, an empty segment, or a repeated name.
 */
export function parseMarkedPrompt(raw: string): MarkedPrompt {
  let text = '';
  const segments: MarkedSegment[] = [];
  const names = new Set<string>();
  let open: { rawPos: number; name: string | null; textStart: number } | null = null;
  let i = 0;
  while (i < raw.length) {
    if (raw[i] === '\\' && (raw.startsWith('{{', i + 1) || raw.startsWith('}}', i + 1))) {
      text += raw.slice(i + 1, i + 3);
      i += 3;
    } else if (raw.startsWith('{{', i)) {
      if (open) {
        throw new Error(
          `marked prompt: '{{' at ${describePosition(raw, i)} opens a segment inside the segment opened at ` +
            `${describePosition(raw, open.rawPos)}; segments cannot nest`,
        );
      }
      const nameEnd = findNameEnd(raw, i + 2);
      let name: string | null = null;
      if (nameEnd >= 0) {
        name = raw.slice(i + 2, nameEnd).trim();
        if (name === '') throw new Error(`marked prompt: empty segment name before '|' in the segment at ${describePosition(raw, i)}`);
      }
      open = { rawPos: i, name, textStart: text.length };
      i = nameEnd >= 0 ? nameEnd + 1 : i + 2;
    } else if (raw.startsWith('}}', i)) {
      if (!open) throw new Error(`marked prompt: '}}' at ${describePosition(raw, i)} closes no segment (no '{{' before it)`);
      if (text.length === open.textStart) throw new Error(`marked prompt: the segment at ${describePosition(raw, open.rawPos)} is empty`);
      const name = open.name ?? `seg${segments.length + 1}`;
      if (names.has(name)) throw new Error(`marked prompt: segment name "${name}" at ${describePosition(raw, open.rawPos)} is used twice`);
      names.add(name);
      segments.push({ name, charStart: open.textStart, charEnd: text.length });
      open = null;
      i += 2;
    } else {
      text += raw[i];
      i += 1;
    }
  }
  if (open) throw new Error(`marked prompt: '{{' at ${describePosition(raw, open.rawPos)} is never closed with '}}'`);
  return { text, segments };
}

/** Index of the `|` ending a segment's name, or -1 when the marker's first line has none before its text ends. */
function findNameEnd(raw: string, from: number): number {
  for (let i = from; i < raw.length; i++) {
    const c = raw[i];
    if (c === '|') return i;
    if (c === '\n' || raw.startsWith('{{', i) || raw.startsWith('}}', i)) return -1;
    if (c === '\\' && (raw.startsWith('{{', i + 1) || raw.startsWith('}}', i + 1))) return -1;
  }
  return -1;
}

/**
 * The sentence each character belongs to (-1 for whitespace between sentences). A sentence ends after . ! or ?
 * (with closing quotes/brackets) followed by whitespace, or at a line break. Shared by span splitting and by prompt
 * search's sentence ablations, so both cut a prompt the same way.
 */
export function sentenceOfChars(promptText: string): Int32Array {
  const sentenceOf = new Int32Array(promptText.length).fill(-1);
  let sent = 0;
  let seen = false;
  for (let c = 0; c < promptText.length; c++) {
    const ch = promptText[c];
    if (ch === '\n') {
      if (seen) sent++;
      seen = false;
      continue;
    }
    if (isSpace(ch)) continue;
    sentenceOf[c] = sent;
    seen = true;
    if (/[.!?]/.test(ch)) {
      let e = c + 1;
      while (e < promptText.length && /["')\]\u201d\u2019]/.test(promptText[e])) e++;
      if (e >= promptText.length || isSpace(promptText[e])) {
        for (let q = c + 1; q < e; q++) sentenceOf[q] = sent;
        c = e - 1;
        sent++;
        seen = false;
      }
    }
  }
  return sentenceOf;
}

function checkOffsets(text: string, offsets: readonly TokenOffset[]): void {
  let prevStart = 0;
  offsets.forEach(([s, e], k) => {
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e < s || e > text.length) {
      throw new RangeError(`splitSpans: token ${k} has offsets [${s},${e}), outside the ${text.length}-character prompt`);
    }
    if (s < prevStart) throw new RangeError(`splitSpans: token ${k} starts at ${s}, before token ${k - 1} (offsets must be in order)`);
    prevStart = s;
  });
}

const isSpace = (c: string): boolean => /\s/.test(c);

/** Key of each token (word or line index), with keyless tokens (-1) given a neighbour's key per `attach`. */
function attachKeys(keys: number[], attach: 'next' | 'previous'): number[] {
  const out = keys.slice();
  const fill = (order: number[]) => {
    let last = -1;
    for (const k of order) {
      if (out[k] >= 0) last = out[k];
      else if (last >= 0) out[k] = last;
    }
  };
  const forward = out.map((_, k) => k);
  const backward = forward.slice().reverse();
  // The preferred neighbour first, then the other one for tokens at the prompt's edge.
  if (attach === 'next') {
    fill(backward);
    fill(forward);
  } else {
    fill(forward);
    fill(backward);
  }
  return out.map((k) => (k < 0 ? 0 : k));
}

/** Maximal runs of equal key as spans; the label is the run's text, trimmed unless `raw`. */
function runs(text: string, offsets: readonly TokenOffset[], keys: readonly number[], raw: boolean): Span[] {
  const spans: Span[] = [];
  let start = 0;
  for (let k = 1; k <= offsets.length; k++) {
    if (k < offsets.length && keys[k] === keys[start]) continue;
    const charStart = offsets[start][0];
    const charEnd = Math.max(...offsets.slice(start, k).map((o) => o[1]));
    const t = text.slice(charStart, charEnd);
    spans.push({ label: raw ? t : t.trim(), tokenStart: start, tokenEnd: k, charStart, charEnd });
    start = k;
  }
  return spans;
}

/**
 * Splits the prompt's tokens into spans. Offsets are [start, end) per prompt token in `promptText` (the text the
 * model sees, markers removed).
 * - tokens: one span per token, labelled with its exact text.
 * - words: a token belongs to the whitespace-delimited word holding its first non-space character (GPT-2's " word"
 *   joins "word"); whitespace-only tokens join the next word (the last word at the prompt's end).
 * - lines: a token belongs to the line holding its first character other than '\n'; newline-only tokens end the
 *   line before them (the first line at the prompt's start).
 *   tokens, words and lines partition 0..p-1 into contiguous spans.
 * - marked: one span per segment (from parseMarkedPrompt); text outside segments is in no span. A token belongs to
 *   a segment when one of its non-space characters lies inside it (whitespace-only tokens: any character), so a
 *   token straddling a boundary belongs to both sides and " word" belongs to a segment holding "word". A segment
 *   no token qualifies for (the tokenizer merged it into text outside) gets an empty range tokenStart = tokenEnd,
 *   placed at the first token that does not end before the segment; callers should report it as unmeasurable.
 */
export function splitSpans(
  promptText: string,
  tokenOffsets: readonly TokenOffset[],
  mode: SplitMode,
  segments?: readonly MarkedSegment[],
): Span[] {
  checkOffsets(promptText, tokenOffsets);
  switch (mode) {
    case 'tokens':
      return tokenOffsets.map(([s, e], k) => ({ label: promptText.slice(s, e), tokenStart: k, tokenEnd: k + 1, charStart: s, charEnd: e }));
    case 'words': {
      const wordOf = new Int32Array(promptText.length).fill(-1);
      let w = -1;
      for (let c = 0; c < promptText.length; c++) {
        if (isSpace(promptText[c])) continue;
        if (c === 0 || isSpace(promptText[c - 1])) w++;
        wordOf[c] = w;
      }
      const keys = tokenOffsets.map(([s, e]) => {
        for (let c = s; c < e; c++) if (wordOf[c] >= 0) return wordOf[c];
        return -1;
      });
      return runs(promptText, tokenOffsets, attachKeys(keys, 'next'), false);
    }
    case 'sentences': {
      const sentenceOf = sentenceOfChars(promptText);
      const keys = tokenOffsets.map(([s, e]) => {
        for (let c = s; c < e; c++) if (sentenceOf[c] >= 0) return sentenceOf[c];
        return -1;
      });
      return runs(promptText, tokenOffsets, attachKeys(keys, 'next'), false);
    }
    case 'lines': {
      const lineOf = new Int32Array(promptText.length);
      let line = 0;
      for (let c = 0; c < promptText.length; c++) {
        lineOf[c] = line;
        if (promptText[c] === '\n') line++;
      }
      const keys = tokenOffsets.map(([s, e]) => {
        for (let c = s; c < e; c++) if (promptText[c] !== '\n') return lineOf[c];
        return -1;
      });
      return runs(promptText, tokenOffsets, attachKeys(keys, 'previous'), false);
    }
    case 'marked': {
      if (!segments) throw new RangeError("splitSpans: mode 'marked' needs the segments from parseMarkedPrompt");
      return segments.map((seg) => markedSpan(promptText, tokenOffsets, seg));
    }
    default: {
      const never: never = mode;
      throw new RangeError(`splitSpans: unknown mode "${String(never)}" (expected tokens, words, sentences, lines or marked)`);
    }
  }
}

function markedSpan(text: string, offsets: readonly TokenOffset[], seg: MarkedSegment): Span {
  if (seg.charStart < 0 || seg.charEnd < seg.charStart || seg.charEnd > text.length) {
    throw new RangeError(`splitSpans: segment "${seg.name}" [${seg.charStart},${seg.charEnd}) lies outside the ${text.length}-character prompt`);
  }
  const inSeg = (c: number) => c >= seg.charStart && c < seg.charEnd;
  let first = -1;
  let last = -1;
  offsets.forEach(([s, e], k) => {
    const chars = Array.from({ length: e - s }, (_, m) => s + m);
    const visible = chars.filter((c) => !isSpace(text[c]));
    const hit = (visible.length > 0 ? visible : chars).some(inSeg);
    if (!hit) return;
    if (first < 0) first = k;
    last = k;
  });
  const base = { label: seg.name, charStart: seg.charStart, charEnd: seg.charEnd };
  if (first < 0) {
    const at = offsets.filter(([, e]) => e <= seg.charStart).length;
    return { ...base, tokenStart: at, tokenEnd: at };
  }
  return { ...base, tokenStart: first, tokenEnd: last + 1 };
}

/**
 * Attention bias [T,T] (row-major, query i, key j) with -Infinity where an input query (i in X) meets a key in the
 * span (positions 1+tokenStart .. tokenEnd) and 0 elsewhere; it broadcasts over batch and heads.
 * Why -Infinity: the softmax then gives those edges exactly 0, and X's rows keep BOS and themselves open.
 */
export function spanBiasMask(T: number, p: number, n: number, span: TokenRange): Float32Array {
  checkCounts(p, n, 'spanBiasMask');
  if (!Number.isInteger(T) || T < 1 + p + n) throw new RangeError(`spanBiasMask: T=${T} is shorter than 1+p+n = ${1 + p + n}`);
  const { tokenStart, tokenEnd } = span;
  if (!Number.isInteger(tokenStart) || !Number.isInteger(tokenEnd) || tokenStart < 0 || tokenEnd < tokenStart || tokenEnd > p) {
    throw new RangeError(`spanBiasMask: token range [${tokenStart},${tokenEnd}) is not inside the prompt's 0..${p}`);
  }
  const mask = new Float32Array(T * T);
  for (let i = p + 1; i <= p + n; i++) mask.fill(-Infinity, i * T + 1 + tokenStart, i * T + 1 + tokenEnd);
  return mask;
}

/** The bias that blocks every edge X -> P' (the knockout of the depth curve and of K(all layers)). */
export function blockAllPromptMask(T: number, p: number, n: number): Float32Array {
  return spanBiasMask(T, p, n, { tokenStart: 0, tokenEnd: p });
}

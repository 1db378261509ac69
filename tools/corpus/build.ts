// Builds the token files of the training corpus from loaded sources: held-out split by document, per-source
// validation files and experiment input sets, packing of the training stream, and the manifest.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Doc, LoadedSource, SourceInfo } from './sources.js';

export const EOT = 50256;
export const HELD_OUT_PERCENT = 9;

/**
 * The held-out rule of tools/prepare-data.mjs, kept so that the State of the Union and Brown validation
 * documents are the same as those of the current bundled models: first 4 bytes of sha256(id), big-endian, mod 100 < 9.
 */
export function isHeldOut(id: string, percent = HELD_OUT_PERCENT): boolean {
  return crypto.createHash('sha256').update(id).digest().readUInt32BE(0) % 100 < percent;
}

/** A document's rank for subsampling a capped source: sha256 of "keep:" + id, so it is independent of isHeldOut. */
function keepRank(id: string): string {
  return crypto.createHash('sha256').update(`keep:${id}`).digest('hex');
}

export type Encode = (text: string) => number[];

export interface SourcePlan {
  source: LoadedSource;
  /** At most this many tokens (train + held-out) are kept: documents are taken in keepRank order, then put back in document order. */
  maxTokens?: number;
}

export interface SourceResult {
  info: SourceInfo;
  documents: { train: string[]; val: string[]; dropped: number };
  tokens: { train: number; val: number; dropped: number };
  /** [start, end) of this source's training documents in train.bin: they are contiguous and in document order. */
  trainRange: [number, number];
  valFile: string;
  inputsFile: string;
  inputs: number;
}

export interface Manifest {
  format: 'precache-lens.corpus/1';
  tokenizer: string;
  eot: number;
  heldOut: string;
  packing: string;
  sources: SourceResult[];
  files: Record<string, { tokens: number; bytes: number; sha256: string }>;
  totals: { train: number; val: number; documents: { train: number; val: number } };
}

/**
 * The opening passage of a text as an experiment input: whole lines until at least `min` characters, at most `max`
 * (a longer line is cut at its last sentence end, else its last space, that fits). Returns it and the text after it.
 */
export function takePassage(text: string, min = 300, max = 900): { passage: string; rest: string } {
  let pos = 0;
  let end = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl;
    if (lineEnd > max) {
      if (end >= min / 2) break;
      const room = text.slice(0, max);
      const cut = Math.max(room.lastIndexOf('. '), room.lastIndexOf('? '), room.lastIndexOf('! '));
      const space = room.lastIndexOf(' ');
      end = cut > min / 2 ? cut + 1 : space > 0 ? space : max;
      break;
    }
    end = lineEnd;
    pos = lineEnd + 1;
    if (end >= min) break;
  }
  return { passage: clean(text.slice(0, end)), rest: text.slice(end).replace(/^\s+/, '') };
}

/** Up to `count` consecutive passages from the start of a text. */
export function passages(text: string, count: number, min = 300, max = 900): string[] {
  const out: string[] = [];
  let rest = text;
  while (out.length < count && rest.trim()) {
    const p = takePassage(rest, min, max);
    if (p.passage) out.push(p.passage);
    if (p.rest.length >= rest.length) break;
    rest = p.rest;
  }
  return out;
}

/** The first passage of a text (see takePassage). */
export function inputPassage(text: string, min = 300, max = 900): string {
  return takePassage(text, min, max).passage;
}

// The batch file format separates texts by lines holding only "---": such a line inside a text would split it.
function clean(passage: string): string {
  return passage
    .split('\n')
    .map((l) => (/^\s*---\s*$/.test(l) ? l.replace('---', '- - -') : l))
    .join('\n')
    .trim();
}

/** The batch --inputs file format: texts separated by lines holding only "---". */
export function formatInputs(texts: string[]): string {
  return texts.filter((t) => t.length > 0).join('\n---\n') + '\n';
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function toBuffer(ids: number[]): Buffer {
  const buf = Buffer.alloc(ids.length * 2);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] > 65535) throw new Error(`token id ${ids[i]} does not fit uint16`);
    buf.writeUInt16LE(ids[i], 2 * i);
  }
  return buf;
}

function keepDocs(docs: Doc[], tokens: Map<string, number>, maxTokens: number | undefined): { kept: Doc[]; dropped: Doc[] } {
  if (maxTokens === undefined) return { kept: docs, dropped: [] };
  const order = [...docs].sort((a, b) => (keepRank(a.id) < keepRank(b.id) ? -1 : 1));
  const keep = new Set<string>();
  let total = 0;
  for (const d of order) {
    const n = tokens.get(d.id)!;
    if (total + n > maxTokens) continue;
    keep.add(d.id);
    total += n;
  }
  return { kept: docs.filter((d) => keep.has(d.id)), dropped: docs.filter((d) => !keep.has(d.id)) };
}

/**
 * Encodes and splits every source and writes, under outDir:
 *   train.bin            training documents, source after source, each source's documents in document order, each
 *                        document preceded by <|endoftext|>: a window cut from it holds consecutive text of one
 *                        document, or the end of one and the start of the next of the same source (uint16 LE)
 *   val.bin              all held-out documents (the sources' val files concatenated in source order)
 *   val/<source>.bin     each source's held-out documents
 *   inputs/<source>.txt  passages of the held-out documents (1-5 each, at most maxInputs), in the batch --inputs format
 *   manifest.json
 */
export function buildCorpus(plans: SourcePlan[], encode: Encode, outDir: string, opts: { maxInputs?: number; tokenizer: string; eot?: number; log?: (s: string) => void }): Manifest {
  const eot = opts.eot ?? EOT;
  const log = opts.log ?? (() => {});
  const names = new Set<string>();
  for (const p of plans) {
    if (names.has(p.source.info.name)) throw new Error(`source ${p.source.info.name} given twice`);
    names.add(p.source.info.name);
  }
  fs.mkdirSync(path.join(outDir, 'val'), { recursive: true });
  fs.mkdirSync(path.join(outDir, 'inputs'), { recursive: true });
  const train: number[][] = [];
  let trainLen = 0;
  const valAll: Buffer[] = [];
  const files: Manifest['files'] = {};
  const results: SourceResult[] = [];
  const record = (rel: string, buf: Buffer) => {
    fs.writeFileSync(path.join(outDir, rel), buf);
    files[rel] = { tokens: buf.length / 2, bytes: buf.length, sha256: sha256(buf) };
  };
  for (const { source, maxTokens } of plans) {
    const { info, docs } = source;
    const ids = new Set<string>();
    for (const d of docs) {
      if (!d.id.startsWith(`${info.name}/`)) throw new Error(`${info.name}: document id ${d.id} does not start with "${info.name}/"`);
      if (ids.has(d.id)) throw new Error(`${info.name}: duplicate document id ${d.id}`);
      ids.add(d.id);
    }
    const encoded = new Map<string, number[]>();
    for (const d of docs) encoded.set(d.id, [eot, ...encode(d.text)]);
    const lengths = new Map([...encoded].map(([k, v]) => [k, v.length]));
    const { kept, dropped } = keepDocs(docs, lengths, maxTokens);
    const trainDocs = kept.filter((d) => !isHeldOut(d.id));
    const valDocs = kept.filter((d) => isHeldOut(d.id));
    const start = trainLen;
    for (const d of trainDocs) {
      const t = encoded.get(d.id)!;
      train.push(t);
      trainLen += t.length;
    }
    const val = valDocs.flatMap((d) => encoded.get(d.id)!);
    const valBuf = toBuffer(val);
    const valFile = `val/${info.name}.bin`;
    record(valFile, valBuf);
    valAll.push(valBuf);
    // One passage per held-out document, more (consecutive ones, up to 5) where a source has few documents.
    const maxInputs = opts.maxInputs ?? 200;
    const perDoc = Math.min(5, Math.max(1, Math.ceil(maxInputs / Math.max(1, valDocs.length))));
    const inputs = valDocs.flatMap((d) => passages(d.text, perDoc)).slice(0, maxInputs);
    const inputsFile = `inputs/${info.name}.txt`;
    fs.writeFileSync(path.join(outDir, inputsFile), formatInputs(inputs));
    const droppedTokens = dropped.reduce((a, d) => a + lengths.get(d.id)!, 0);
    results.push({
      info,
      documents: { train: trainDocs.map((d) => d.id), val: valDocs.map((d) => d.id), dropped: dropped.length },
      tokens: { train: trainLen - start, val: val.length, dropped: droppedTokens },
      trainRange: [start, trainLen],
      valFile,
      inputsFile,
      inputs: inputs.length,
    });
    log(`${info.name.padEnd(9)} train ${String(trainDocs.length).padStart(5)} docs ${String(trainLen - start).padStart(9)} tokens | val ${String(valDocs.length).padStart(4)} docs ${String(val.length).padStart(8)} tokens${dropped.length ? ` | capped: ${dropped.length} docs, ${droppedTokens} tokens left out` : ''}`);
  }
  record('train.bin', toBuffer(train.flat()));
  record('val.bin', Buffer.concat(valAll));
  const manifest: Manifest = {
    format: 'precache-lens.corpus/1',
    tokenizer: opts.tokenizer,
    eot,
    heldOut: `a document is held out when the first 4 bytes of sha256(document id), big-endian, mod 100 are < ${HELD_OUT_PERCENT}`,
    packing: 'each document preceded by <|endoftext|> (50256); train.bin holds the sources one after another (trainRange), each source\'s documents in document order',
    sources: results,
    files,
    totals: {
      train: trainLen,
      val: results.reduce((a, r) => a + r.tokens.val, 0),
      documents: { train: results.reduce((a, r) => a + r.documents.train.length, 0), val: results.reduce((a, r) => a + r.documents.val.length, 0) },
    },
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

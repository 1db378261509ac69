// Which tokenizer a model uses, as a short description and a content hash: side-by-side views need one tokenizer.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ModelDir } from './model-dir.js';

export interface TokenizerIdentity {
  /** A hash of what decides the tokens (model, normalizer, pre-tokenizer, decoder, added tokens), not of the file's layout. */
  id: string;
  /** For people: family and vocabulary size, e.g. "byte-level BPE, 4096 tokens". */
  description: string;
}

type Json = Record<string, unknown> | null | undefined;

const types = (x: unknown): string[] => {
  if (!x || typeof x !== 'object') return [];
  const o = x as Record<string, unknown>;
  const inner = [o.normalizers, o.pretokenizers, o.decoders].find(Array.isArray) as unknown[] | undefined;
  return [String(o.type ?? ''), ...(inner ?? []).flatMap(types)];
};

/** The tokenizer family in words, read from tokenizer.json the way the tokenizers library builds it. */
export function tokenizerFamily(json: Record<string, unknown>): string {
  const model = (json.model ?? {}) as Record<string, unknown>;
  const parts = [...types(json.normalizer), ...types(json.pre_tokenizer), ...types(json.decoder)];
  const vocab = model.vocab;
  const size = Array.isArray(vocab) ? vocab.length : vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id: number }[]).filter((t) => Array.isArray(vocab) || !Object.values((vocab ?? {}) as object).includes(t.id)).length : 0;
  const type = String(model.type ?? 'unknown');
  let family: string;
  if (parts.includes('ByteLevel')) family = `byte-level ${type}`;
  else if (parts.includes('Metaspace') || JSON.stringify(json.normalizer ?? null).includes('▁')) family = `SentencePiece ${type}${model.byte_fallback ? ' with byte fallback' : ''}`;
  else family = type;
  return `${family}, ${size + added} tokens`;
}

const cache = new Map<string, TokenizerIdentity>();

export function tokenizerIdentity(md: Pick<ModelDir, 'tokenizerPath'>): TokenizerIdentity {
  const hit = cache.get(md.tokenizerPath);
  if (hit) return hit;
  const json = JSON.parse(fs.readFileSync(md.tokenizerPath, 'utf8')) as Record<string, unknown>;
  const decisive = ['model', 'normalizer', 'pre_tokenizer', 'decoder', 'added_tokens'].map((k) => (json[k] ?? null) as Json);
  const id = crypto.createHash('sha256').update(JSON.stringify(decisive)).digest('hex').slice(0, 12);
  const out = { id, description: tokenizerFamily(json) };
  cache.set(md.tokenizerPath, out);
  return out;
}

/** Null when the two models share a tokenizer, else a sentence naming both, for a 422 on the field that chose the second. */
export function tokenizerMismatch(a: { id: string; md: Pick<ModelDir, 'tokenizerPath'> }, b: { id: string; md: Pick<ModelDir, 'tokenizerPath'> }): string | null {
  const ta = tokenizerIdentity(a.md);
  const tb = tokenizerIdentity(b.md);
  if (ta.id === tb.id) return null;
  return `${b.id} uses another tokenizer (${tb.description}, ${tb.id}) than ${a.id} (${ta.description}, ${ta.id}); a side-by-side view needs both models to read the same tokens`;
}

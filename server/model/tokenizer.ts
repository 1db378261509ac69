// Tokenization with Hugging Face's tokenizers for JS, from a model directory's tokenizer.json.
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelDirError, readJson, type ModelDir } from './model-dir.js';

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /**
   * Each token's text, for labelling tokens in the UI and exports; joined, they give the decoded text. A character
   * whose bytes span several tokens (byte-level BPE: accents, emoji, CJK) is given to the token that completes it.
   */
  tokenStrings(ids: number[]): string[];
  /** One token's text as it reads after other text (a prediction, a vocabulary entry): its leading space kept. */
  tokenText(id: number): string;
  /** The id put at position 0: the BOS token, or EOS where the model has none (reported by `bosSource`). */
  bosId: number;
  bosSource: 'bos' | 'eos';
  vocabSize: number;
}

export function loadTokenizer(md: ModelDir): TextTokenizer {
  const json = readJson(md.tokenizerPath);
  const cfg = md.tokenizerConfigPath ? readJson(md.tokenizerConfigPath) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as never, cfg as never);
  } catch (e) {
    throw new ModelDirError(`${md.tokenizerPath}: cannot build a tokenizer (${(e as Error).message})`);
  }
  const special = (key: string): number | null => {
    const v = cfg[key];
    const s = typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String((v as { content: unknown }).content) : null;
    if (!s) return null;
    const id = tok.token_to_id(s);
    return typeof id === 'number' ? id : null;
  };
  const bos = md.config.bosTokenId ?? special('bos_token');
  const eos = md.config.eosTokenId ?? special('eos_token');
  if (bos === null && eos === null) {
    throw new ModelDirError(`${md.configPath}: the model has neither bos_token_id nor eos_token_id; one is needed at position 0`);
  }
  return {
    ...tokenTextFunctions(tok),
    bosId: (bos ?? eos)!,
    bosSource: bos !== null ? 'bos' : 'eos',
    vocabSize: md.config.vocabSize,
  };
}

/** Encoding, decoding and token texts over a Hugging Face tokenizer (what loadTokenizer adds the model's BOS to). */
export function tokenTextFunctions(tok: Tokenizer): Pick<TextTokenizer, 'encode' | 'decode' | 'tokenStrings' | 'tokenText'> {
  // Token texts are what the tokens stand for, so the tokenizer-level clean-up (" ." -> ".") is off; a WordPiece
  // decoder's own clean-up still applies, since WordPiece tokens carry no spaces of their own.
  const raw = (part: number[]) => (part.length === 0 ? '' : tok.decode(part, { clean_up_tokenization_spaces: false }));
  const anchorIds = tok.encode('a', { add_special_tokens: false }).ids;
  const anchor = anchorIds.length ? [anchorIds[anchorIds.length - 1]] : [];
  return {
    encode: (text) => (text === '' ? [] : tok.encode(text, { add_special_tokens: false }).ids),
    decode: (ids) => (ids.length === 0 ? '' : tok.decode(ids)),
    tokenStrings: (ids) => tokenTexts(ids, raw),
    // After an ordinary token ("a"), so a leading space survives a SentencePiece decoder's strip. A lone byte of a
    // longer character has no text of its own; it is named as the byte (<0xE2>), as SentencePiece writes byte tokens.
    tokenText: (id) => {
      const text = tokenTexts([...anchor, id], raw).slice(anchor.length).join('');
      if (!text.includes('\uFFFD')) return text;
      const name = tok.id_to_token(id) ?? '';
      if (/^<0x[0-9A-F]{2}>$/.test(name)) return name;
      const bytes = byteLevelBytes(name);
      return bytes ? bytes.map((b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).join('') : text;
    },
  };
}

/**
 * Token texts by incremental decoding, each token read after the text before it. Two tokenizer habits make a token
 * decoded alone lie about its text: a SentencePiece decoder strips the leading space of what it decodes (Llama's
 * `Strip`, T5's `Metaspace`), so "▁park" alone reads "park"; and a character whose bytes span several tokens (byte-level
 * BPE, `<0xE2>` byte fallback) decodes to U+FFFD halves. So each group of tokens is decoded after the previous group
 * (its text is what that adds), and a group grows until it ends on a complete character (at most 4 tokens: UTF-8's
 * longest). The first token has no text before it and reads as the decoder gives it; joined, the texts give the text.
 */
export function tokenTexts(ids: readonly number[], decode: (ids: number[]) => string): string[] {
  const out: string[] = [];
  let start = 0;
  let emitted = 0;
  let ctx: number[] = [];
  let ctxText = '';
  const afterContext = (group: number[]): string => {
    if (!ctx.length) return decode(group);
    const full = decode([...ctx, ...group]);
    return full.startsWith(ctxText) ? full.slice(ctxText.length) : decode(group);
  };
  for (let k = 0; k < ids.length; k++) {
    const group = ids.slice(start, k + 1);
    const text = afterContext(group);
    const incomplete = text.endsWith('\uFFFD') && k < ids.length - 1 && k - start < 3;
    if (incomplete) {
      // The complete characters so far belong to this token; the dangling bytes wait for the next one.
      const stable = text.replace(/\uFFFD+$/, '');
      out.push(stable.slice(emitted));
      emitted = Math.max(emitted, stable.length);
    } else {
      out.push(text.slice(emitted));
      ctx = group;
      ctxText = decode(ctx);
      start = k + 1;
      emitted = 0;
    }
  }
  return out;
}

/** Prompt and input token texts, the input read after the prompt (so a SentencePiece input keeps its first space). */
export function promptAndInputTexts(tok: Pick<TextTokenizer, 'tokenStrings'>, promptIds: readonly number[], inputIds: readonly number[]): { prompt: string[]; input: string[] } {
  const all = tok.tokenStrings([...promptIds, ...inputIds]);
  return { prompt: all.slice(0, promptIds.length), input: all.slice(promptIds.length) };
}

/** GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the others for U+0100 onwards. */
const BYTE_LEVEL_CHAR_TO_BYTE: Map<string, number> = (() => {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const m = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) m.set(String.fromCharCode(keep(b) ? b : 256 + n++), b);
  return m;
})();

/** The bytes a byte-level BPE token stands for, or null when the token is not written in that alphabet. */
function byteLevelBytes(token: string): number[] | null {
  const out: number[] = [];
  for (const ch of token) {
    const b = BYTE_LEVEL_CHAR_TO_BYTE.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return out.length ? out : null;
}

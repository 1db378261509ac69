// Tokenization with Hugging Face's tokenizers for JS, from a model directory's tokenizer.json.
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelDirError, readJson, type ModelDir } from './model-dir.js';

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Each id's own text (as decode would write it alone), for labelling tokens in the UI and exports. */
  tokenStrings(ids: number[]): string[];
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
    encode: (text) => (text === '' ? [] : tok.encode(text, { add_special_tokens: false }).ids),
    decode: (ids) => (ids.length === 0 ? '' : tok.decode(ids)),
    tokenStrings: (ids) => ids.map((id) => tok.decode([id])),
    bosId: (bos ?? eos)!,
    bosSource: bos !== null ? 'bos' : 'eos',
    vocabSize: md.config.vocabSize,
  };
}

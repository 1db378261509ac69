// Token texts for every tokenizer family: each token shown as the text it stands for (spaces kept, byte runs joined).
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { promptAndInputTexts, tokenTextFunctions } from '../server/model/tokenizer.js';

const DIR = path.join(import.meta.dirname, 'fixtures/tokenizers');

/** loadTokenizer's token-text functions over a fixture's tokenizer.json (no model graph needed). */
function fixture(name: string) {
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(DIR, name, f), 'utf8'));
  const tok = new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
  const fns = tokenTextFunctions(tok);
  return {
    ...fns,
    encode: (t: string) => tok.encode(t, { add_special_tokens: false }),
    texts: (t: string) => fns.tokenStrings(fns.encode(t)),
    one: fns.tokenText,
    id: (t: string) => tok.token_to_id(t)!,
  };
}

describe('Llama-style SentencePiece BPE with byte fallback', () => {
  const t = fixture('llama-bpe-byte-fallback');
  const text = 'Lily loved to play with her ball in the park.\nThe café 😀';

  it('the fixture really is metaspace + byte fallback: ▁ words, <0x0A> newline, é and 😀 as byte tokens', () => {
    const toks = t.encode(text).tokens;
    expect(toks).toContain('▁loved');
    expect(toks).toContain('<0x0A>');
    expect(toks).toEqual(expect.arrayContaining(['<0xC3>', '<0xA9>', '<0xF0>', '<0x9F>']));
  });

  it('keeps each word\'s leading space, shows <0x0A> as a newline and joins byte runs into their characters', () => {
    const labels = t.texts(text);
    expect(labels.slice(0, 4)).toEqual(['Lily', ' loved', ' to', ' play']);
    expect(labels).toContain('\n');
    expect(labels).toContain('é');
    expect(labels).toContain('😀');
    expect(labels.some((l) => l.includes('\uFFFD') || l.includes('▁') || /<0x/.test(l))).toBe(false);
    expect(labels.join('')).toBe(text);
  });

  it('reads the input after the prompt, so its first word keeps its space', () => {
    const p = t.encode('Once upon a time,').ids;
    const x = t.encode('Lily loved the park.').ids;
    const { prompt, input } = promptAndInputTexts(t, p, x);
    expect(prompt[0]).toBe('Once');
    expect(input[0]).toBe(' Lily');
    expect(input.join('')).toBe(' Lily loved the park.');
  });

  it('a predicted token alone keeps its space ("▁a" is " a", never a blank chip), a bare "▁" is a space', () => {
    expect(t.one(t.id('▁apple'))).toBe(' apple');
    expect(t.one(t.id('▁'))).toBe(' ');
    expect(t.one(t.id('<0x0A>'))).toBe('\n');
  });

  it('a lone byte of a longer character is named as its byte token, never a blank or U+FFFD', () => {
    expect(t.one(t.id('<0xC3>'))).toBe('<0xC3>');
  });

  it('special tokens read as themselves', () => {
    expect(t.texts('the park</s>').slice(-1)).toEqual(['</s>']);
    expect(t.one(t.id('<s>'))).toBe('<s>');
  });
});

describe('T5-style Unigram with a Metaspace pre-tokenizer and decoder', () => {
  const t = fixture('t5-unigram-metaspace');
  it('keeps the spaces that ▁ stands for', () => {
    const labels = t.texts('Lily loved the apple pie.');
    expect(labels).toEqual(['Lily', ' loved', ' the', ' apple', ' pie', '.']);
  });
  it('a lone ▁ token is a visible space, and </s> reads as itself', () => {
    expect(t.one(t.id('▁'))).toBe(' ');
    expect(t.one(t.id('</s>'))).toBe('</s>');
    expect(t.one(t.id('▁park'))).toBe(' park');
  });
});

describe('BERT-style WordPiece', () => {
  const t = fixture('bert-wordpiece');
  it('shows ## continuations joined to their word and a space before every new word', () => {
    const labels = t.texts('Lily loved the cafe.');
    expect(t.encode('Lily loved the cafe.').tokens).toContain('##e');
    expect(labels).toEqual(['lily', ' loved', ' the', ' caf', 'e', '.']);
    expect(labels.some((l) => l.includes('##'))).toBe(false);
  });
  it('a continuation predicted alone has no space, a word has one; [CLS] and [SEP] read as themselves', () => {
    expect(t.one(t.id('##ing'))).toBe('ing');
    expect(t.one(t.id('park'))).toBe(' park');
    expect(t.tokenStrings([t.id('[CLS]'), t.id('park'), t.id('[SEP]')])).toEqual(['[CLS]', ' park', ' [SEP]']);
  });
});

describe('how a token text is shown (UI and reports, shared/format showToken)', () => {
  it('marks a leading space and a newline, and never shows a leading byte of a longer character as a blank', async () => {
    const { showToken } = await import('../shared/format.js');
    const t = fixture('llama-bpe-byte-fallback');
    const labels = t.texts('the café 😀').map(showToken);
    expect(labels).toContain('·caf');
    expect(labels.filter((l) => l === '⋯').length).toBeGreaterThan(0);
    expect(labels.join('')).not.toMatch(/\s/);
    expect(showToken('\n')).toBe('⏎');
  });
});

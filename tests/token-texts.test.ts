// Token labels from byte-level BPE: characters split over several tokens are shown whole, never as U+FFFD halves.
import { describe, expect, it } from 'vitest';
import { loadTokenizer, tokenTexts } from '../server/model/tokenizer.js';
import { openModelDir } from '../server/model/model-dir.js';
import { DEFAULT_MODEL } from './helpers/golden.js';

describe('token texts', () => {
  const tok = loadTokenizer(openModelDir(DEFAULT_MODEL));

  for (const text of ['Le café est très bon.', 'Smile 😀 please', '日本語のテキスト', 'naïve façade — “quotes”']) {
    it(`labels every token of ${JSON.stringify(text)} without U+FFFD, and the labels join to the text`, () => {
      const ids = tok.encode(text);
      const labels = tok.tokenStrings(ids);
      expect(labels).toHaveLength(ids.length);
      expect(labels.join('')).toBe(text);
      expect(labels.some((l) => l.includes('\uFFFD'))).toBe(false);
    });
  }

  it('the emoji and CJK texts do split characters over tokens (the case the grouping is for)', () => {
    for (const text of ['Smile 😀 please', '日本語のテキスト']) expect(tok.encode(text).some((id) => tok.decode([id]).includes('\uFFFD'))).toBe(true);
  });

  it('gives a split character to the token that completes it, and complete characters before it to their own token', () => {
    // A fake decoder over bytes: ids are bytes of UTF-8.
    const bytes = [...new TextEncoder().encode('aé')];
    const decode = (ids: number[]) => new TextDecoder().decode(Uint8Array.from(ids));
    expect(tokenTexts(bytes, decode)).toEqual(['a', '', 'é']);
    // Bytes that never complete a character stay visible as U+FFFD rather than vanish.
    expect(tokenTexts([0x61, 0xc3], decode)).toEqual(['a', '\uFFFD']);
  });

  it('a predicted token alone keeps its leading space, and a lone byte of a longer character is named as that byte', () => {
    const [space] = tok.encode(' the').slice(-1);
    expect(tok.tokenText(space)).toBe(' the');
    const partial = tok.encode('😀').filter((id) => tok.decode([id]).includes('\uFFFD'));
    expect(partial.length).toBeGreaterThan(0);
    for (const id of partial) expect(tok.tokenText(id)).toMatch(/^(<0x[0-9A-F]{2}>)+$/);
    expect(partial.map((id) => tok.tokenText(id)).join('')).toMatch(/^<0xF0>/);
  });
});

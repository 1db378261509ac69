// The training-corpus builder (tools/corpus): source parsers, the held-out split by document, packing and manifest.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brownText, dictdEntries, dictdNumber, devilText, fortuneCookies, gcideText, groupEntries, kjvChapters, type LoadedSource } from '../tools/corpus/sources.js';
import { buildCorpus, EOT, formatInputs, inputPassage, isHeldOut, passages } from '../tools/corpus/build.js';
import { readTokenFile } from '../scripts/lib/lm-eval.js';
import { fullGpt2TokenizerDir } from '../scripts/gpt2-tokenizer.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-corpus-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('source parsers', () => {
  it('splits the bible program output into one document per chapter, numbered books included', () => {
    const raw = '\nGenesis 1\n\n  1 In the beginning God created the heaven and the earth.\n  2 And the earth was without form.\n\n1 Kings 2\n\n  1 Now the days of David drew nigh.\n';
    expect(kjvChapters(raw)).toEqual([
      { id: 'kjv/Genesis_1', text: 'Genesis 1\n\n1 In the beginning God created the heaven and the earth.\n2 And the earth was without form.' },
      { id: 'kjv/1_Kings_2', text: '1 Kings 2\n\n1 Now the days of David drew nigh.' },
    ]);
    expect(() => kjvChapters('  1 A verse before any heading\n')).toThrow(/before any chapter heading/);
  });

  it('reads dictd index numbers and returns each entry once, in file order, without database headers', () => {
    expect(dictdNumber('A')).toBe(0);
    expect(dictdNumber('BA')).toBe(64);
    expect(dictdNumber('/')).toBe(63);
    const dict = Buffer.from('HEADERfirst entry\nsecond entry\n');
    // 00-database-info spans the header; "second" and its alias "twice" share one span.
    const index = ['00-database-info\tA\tG', 'second\tS\tN', 'first\tG\tM', 'twice\tS\tN'].join('\n');
    expect(dictdEntries(index, dict)).toEqual([
      { head: 'first', text: 'first entry\n' },
      { head: 'second', text: 'second entry\n' },
    ]);
  });

  it('turns a GCIDE entry into running text without pronunciation and source tags', () => {
    const entry = 'Abdicator \\Ab"di*ca`tor\\, n.\n   One who abdicates.\n   [1913 Webster]\n\n   2. Another sense,\n      wrapped.\n      [PJC]\n';
    expect(gcideText(entry)).toBe('Abdicator, n. One who abdicates.\n2. Another sense, wrapped.');
  });

  it('joins wrapped Devil\'s Dictionary prose and keeps verse lines', () => {
    const entry = 'AGE, n.  That period of life in which we compound for the vices that\nwe still cherish.\n\n    "Cheer up!  Have you no aim in life?"\n        She tenderly inquired.\n';
    expect(devilText(entry)).toBe('AGE, n.  That period of life in which we compound for the vices that we still cherish.\n"Cheer up!  Have you no aim in life?"\nShe tenderly inquired.');
  });

  it('groups consecutive entries into documents named after their first headword', () => {
    const e = ['a', 'b', 'c', 'd', 'e'].map((h) => ({ head: h, text: `${h} text` }));
    expect(groupEntries('devil', e, 2).map((d) => d.id)).toEqual(['devil/00000-a', 'devil/00001-c', 'devil/00002-e']);
    expect(groupEntries('devil', e, 2)[0].text).toBe('a text\n\nb text');
  });

  it('splits a fortune file at lines holding only %', () => {
    expect(fortuneCookies('work', 'First one.\n\t-- Someone\n%\nSecond\nline.\n%\n\n%\n')).toEqual([
      { id: 'fortunes/work/0000', text: 'First one.\n\t-- Someone' },
      { id: 'fortunes/work/0001', text: 'Second\nline.' },
    ]);
  });

  it('strips Brown corpus tags and undoes its tokenisation', () => {
    expect(brownText('The/at jury/nn said/vbd ``/`` it/pps did/dod n\'t/* ./.\n')).toBe('The jury said "it didn\'t.');
  });
});

describe('held-out split and input passages', () => {
  it('holds out about 9% of documents, always the same ones, including those of the current bundled models', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `src/doc-${i}`);
    const share = ids.filter((id) => isHeldOut(id)).length / ids.length;
    expect(share).toBeGreaterThan(0.07);
    expect(share).toBeLessThan(0.11);
    expect(ids.map((id) => isHeldOut(id))).toEqual(ids.map((id) => isHeldOut(id)));
    // The first held-out document of tools/prepare-data.mjs (the start of tests/fixtures/val-slice.bin).
    expect(isHeldOut('sotu/1793_george_washington_n.txt')).toBe(true);
  });

  it('cuts an input passage at a line end once it is long enough, and never leaves a batch separator line inside', () => {
    const text = ['a'.repeat(200), '---', 'b'.repeat(200), 'c'.repeat(200)].join('\n');
    const p = inputPassage(text, 300, 900);
    expect(p).toBe(`${'a'.repeat(200)}\n- - -\n${'b'.repeat(200)}`);
    const long = inputPassage('One sentence here. '.repeat(100), 300, 900);
    expect(long.length).toBeLessThanOrEqual(900);
    expect(long.endsWith('here.')).toBe(true);
    expect(formatInputs(['x', '', 'y\nz'])).toBe('x\n---\ny\nz\n');
  });

  it('takes consecutive passages of one document that together are its opening text', () => {
    const lines = Array.from({ length: 12 }, (_, i) => `Line ${i} `.padEnd(120, 'x'));
    const ps = passages(lines.join('\n'), 3, 300, 900);
    expect(ps).toHaveLength(3);
    expect(ps.join('\n')).toBe(lines.slice(0, 9).join('\n'));
    expect(passages('short', 5)).toEqual(['short']);
  });
});

describe('buildCorpus', () => {
  // A stand-in tokenizer: one token per character code, enough to check packing and bookkeeping.
  const encode = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
  const source = (name: string, n: number): LoadedSource => ({
    info: { name, title: name, origin: { kind: 'npm', package: name, version: '1.0.0' }, licence: 'CC0-1.0', licenceFile: 'x', licenceFileSha256: 'y', document: 'one doc' },
    docs: Array.from({ length: n }, (_, i) => ({ id: `${name}/${i}`, text: `${name} document ${i}.` })),
  });

  it('packs each source contiguously, keeps held-out documents apart per source, and records it all in the manifest', () => {
    const out = path.join(tmp, 'c1');
    const m = buildCorpus([{ source: source('alpha', 120) }, { source: source('beta', 80) }], encode, out, { tokenizer: 'chars' });
    const train = readTokenFile(path.join(out, 'train.bin'));
    expect(m.totals.train).toBe(train.length);
    for (const s of m.sources) {
      const docs = s.documents;
      expect(docs.train.length + docs.val.length).toBe(s.info.name === 'alpha' ? 120 : 80);
      expect(docs.val.every((id) => isHeldOut(id))).toBe(true);
      expect(docs.train.some((id) => isHeldOut(id))).toBe(false);
      // The source's stretch of train.bin is exactly its training documents, in order, each after <|endoftext|>.
      const want = docs.train.flatMap((id) => [EOT, ...encode(`${s.info.name} document ${id.split('/')[1]}.`)]);
      expect(Array.from(train.subarray(s.trainRange[0], s.trainRange[1]))).toEqual(want);
      const val = readTokenFile(path.join(out, s.valFile));
      expect(val.length).toBe(s.tokens.val);
      expect(val[0]).toBe(EOT);
      const inputs = fs.readFileSync(path.join(out, s.inputsFile), 'utf8').trimEnd().split('\n---\n');
      expect(inputs).toEqual(docs.val.map((id) => `${s.info.name} document ${id.split('/')[1]}.`));
    }
    expect(m.sources[1].trainRange[0]).toBe(m.sources[0].trainRange[1]);
    // val.bin is the sources' held-out files one after the other.
    const all = readTokenFile(path.join(out, 'val.bin'));
    const parts = m.sources.flatMap((s) => Array.from(readTokenFile(path.join(out, s.valFile))));
    expect(Array.from(all)).toEqual(parts);
    const onDisk = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(onDisk.files['train.bin'].tokens).toBe(train.length);
    expect(onDisk.files['val/beta.bin'].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps a capped source under its token cap with a subset that does not depend on document order', () => {
    const a = buildCorpus([{ source: source('gamma', 300), maxTokens: 2000 }], encode, path.join(tmp, 'c2'), { tokenizer: 'chars' });
    const s = a.sources[0];
    expect(s.tokens.train + s.tokens.val).toBeLessThanOrEqual(2000);
    expect(s.documents.dropped).toBeGreaterThan(0);
    expect(s.tokens.train + s.tokens.val + s.tokens.dropped).toBe(source('gamma', 300).docs.reduce((n, d) => n + 1 + d.text.length, 0));
    const reversed = source('gamma', 300);
    reversed.docs.reverse();
    const b = buildCorpus([{ source: reversed, maxTokens: 2000 }], encode, path.join(tmp, 'c3'), { tokenizer: 'chars' });
    expect(new Set(b.sources[0].documents.train)).toEqual(new Set(s.documents.train));
  });

  it('rejects a document id outside its source and a duplicate id', () => {
    const bad = source('delta', 3);
    bad.docs[1].id = 'other/1';
    expect(() => buildCorpus([{ source: bad }], encode, path.join(tmp, 'c4'), { tokenizer: 'chars' })).toThrow(/other\/1/);
    const dup = source('delta', 3);
    dup.docs[2].id = 'delta/0';
    expect(() => buildCorpus([{ source: dup }], encode, path.join(tmp, 'c5'), { tokenizer: 'chars' })).toThrow(/duplicate/);
  });
});

describe('held-out text in bytes (nats/byte on any tokenizer)', () => {
  it('counts the UTF-8 bytes of the text, a character split over byte-level tokens once, and a document break as 1 byte', async () => {
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const { textBytes } = await import('../scripts/lib/lm-eval.js');
    const json = JSON.parse(fs.readFileSync(path.join(fullGpt2TokenizerDir(), 'tokenizer.json'), 'utf8'));
    const tok = new Tokenizer(json, { clean_up_tokenization_spaces: false } as never);
    const enc = (s: string) => tok.encode(s, { add_special_tokens: false }).ids;
    const a = 'Café — naïve façade.';
    const b = ' Two 🙂 words';
    const ids = [...enc(a), EOT, ...enc(b)];
    // 'é', '—', '🙂' take several bytes, and byte-level BPE splits some of them over tokens.
    expect(ids.length).toBeGreaterThan(enc(a).length + 1);
    const decode = (part: number[]) => tok.decode(part);
    expect(textBytes(ids, 0, ids.length, EOT, decode)).toBe(Buffer.byteLength(a) + 1 + Buffer.byteLength(b));
    expect(textBytes(ids, enc(a).length + 1, ids.length, EOT, decode)).toBe(Buffer.byteLength(b));
  });
});

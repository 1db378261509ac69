// Writes small tokenizer fixtures of each family into tests/fixtures/tokenizers/, in the shapes the tools write them:
// Llama-2 (BPE + byte fallback, transformers' LlamaConverter), T5 (Unigram + Metaspace, T5Converter) and BERT (WordPiece,
// BertConverter). The vocabularies are tiny, built from the words below, so the fixtures stay readable; the structure
// (normalizer, pre-tokenizer, decoder chains, added tokens, tokenizer_config keys) is the tool's own.
// Usage: node tools/make-tokenizer-fixtures.mjs   (then: npx vitest run tests/token-texts.test.ts)
import fs from 'node:fs';
import path from 'node:path';

const OUT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../tests/fixtures/tokenizers');
const WORDS = ['Lily', 'loved', 'to', 'play', 'with', 'her', 'ball', 'in', 'the', 'park', 'The', 'apple', 'a', 'pp', 'le', 'pie', 'Once', 'upon', 'time', 'caf'];
const CHARS = [...new Set([...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?\'"-()'])];

function write(name, tokenizer, config) {
  const dir = path.join(OUT, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
}

const added = (id, content, special = true) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });

// Llama-2: <unk> <s> </s>, then the 256 byte tokens <0x00>..<0xFF>, then pieces; spaces become ▁ in the normalizer
// (Prepend + Replace), no pre-tokenizer, and a decoder chain Replace ▁ -> ' ', ByteFallback, Fuse, Strip one leading space.
function llama() {
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const add = (t) => (t in vocab ? null : (vocab[t] = Object.keys(vocab).length));
  add('▁');
  for (const c of CHARS) add(c);
  const merges = [];
  for (const w of WORDS) {
    let cur = '▁';
    for (const c of w) {
      const next = cur + c;
      if (!(next in vocab)) {
        merges.push(`${cur} ${c}`);
        add(next);
      }
      cur = next;
    }
  }
  write(
    'llama-bpe-byte-fallback',
    {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
      },
      model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
    },
    { add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', clean_up_tokenization_spaces: false, legacy: false, model_max_length: 1000000000000000019884624838656, tokenizer_class: 'LlamaTokenizer', sp_model_kwargs: {} },
  );
}

// T5: <pad> </s> <unk>, then Unigram pieces with log-probabilities; Metaspace pre-tokenizer and decoder (prepend_scheme
// "always"), no byte fallback. T5's Precompiled normalizer (a binary charsmap) is left out: the texts here are ASCII.
function t5() {
  const vocab = [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁', -2]];
  const seen = new Set(vocab.map((v) => v[0]));
  const add = (t, score) => (seen.has(t) ? null : (seen.add(t), vocab.push([t, score])));
  for (const w of WORDS) add(`▁${w}`, -5 - w.length * 0.1);
  for (const c of CHARS) add(c, -10);
  for (const c of CHARS) add(`▁${c}`, -11);
  write(
    't5-unigram-metaspace',
    {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [added(0, '<pad>'), added(1, '</s>'), added(2, '<unk>')],
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }] },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
        pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
        special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
      },
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
    },
    { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', extra_ids: 0, clean_up_tokenization_spaces: true, model_max_length: 512, tokenizer_class: 'T5Tokenizer' },
  );
}

// BERT (uncased): [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103 as in bert-base-uncased; words, single characters
// and ## continuations; BertNormalizer, BertPreTokenizer, WordPiece decoder with cleanup.
function bert() {
  const vocab = {};
  const names = ['[PAD]'];
  for (let k = 1; k < 100; k++) names.push(`[unused${k - 1}]`);
  names.push('[UNK]', '[CLS]', '[SEP]', '[MASK]');
  names.forEach((t, i) => (vocab[t] = i));
  const add = (t) => (t in vocab ? null : (vocab[t] = Object.keys(vocab).length));
  for (const c of CHARS.filter((c) => !/[A-Z]/.test(c))) add(c);
  for (const c of CHARS.filter((c) => /[a-z]/.test(c))) add(`##${c}`);
  for (const w of ['lily', 'loved', 'to', 'play', 'with', 'her', 'ball', 'in', 'the', 'park', 'apple', 'once', 'upon', 'a', 'time', 'caf', '##e', '##s', '##ing', 'pie']) add(w);
  write(
    'bert-wordpiece',
    {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [added(0, '[PAD]'), added(100, '[UNK]'), added(101, '[CLS]'), added(102, '[SEP]'), added(103, '[MASK]')],
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
        special_tokens: { '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] } },
      },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    },
    { cls_token: '[CLS]', do_lower_case: true, mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', strip_accents: null, tokenize_chinese_chars: true, unk_token: '[UNK]', clean_up_tokenization_spaces: true, model_max_length: 512, tokenizer_class: 'BertTokenizer' },
  );
}

llama();
t5();
bert();
console.log(`wrote ${fs.readdirSync(OUT).filter((d) => fs.statSync(path.join(OUT, d)).isDirectory()).join(', ')} to ${OUT}`);

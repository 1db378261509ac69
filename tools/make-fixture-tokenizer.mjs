#!/usr/bin/env node
// Writes a tiny byte-level BPE tokenizer (Hugging Face tokenizer.json + tokenizer_config.json) into every
// directory given on the command line. Vocabulary: the 256 GPT-2 byte-level unicode symbols with id = byte
// value (0..255), plus "<|endoftext|>" = 256 (BOS/EOS/UNK, a special added token). No merges, so every UTF-8
// byte of the input becomes one token: encode("Hello") = [72, 101, 108, 108, 111].
//
//   node tools/make-fixture-tokenizer.mjs tests/fixtures/models/gpt2-opset14 [DIR ...]
//   node tools/make-fixture-tokenizer.mjs --check DIR   # only verify an existing tokenizer with @huggingface/tokenizers
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const EOT = "<|endoftext|>";
export const EOT_ID = 256;

/** GPT-2's bytes_to_unicode(): byte -> printable unicode character. */
export function bytesToUnicode() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = new Map(bs.map((b) => [b, String.fromCodePoint(b)]));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!map.has(b)) map.set(b, String.fromCodePoint(256 + n++));
  }
  return map;
}

/** Vocabulary entries in id order: [symbol of byte 0, 0], ..., [symbol of byte 255, 255], ["<|endoftext|>", 256]. */
export function vocabEntries() {
  const b2u = bytesToUnicode();
  const entries = [];
  for (let b = 0; b < 256; b++) entries.push([b2u.get(b), b]); // id = byte value
  entries.push([EOT, EOT_ID]);
  return entries;
}

export function tokenizerJson() {
  const vocab = Object.fromEntries(vocabEntries());
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      { id: EOT_ID, content: EOT, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** JSON text of tokenizer.json. Written by hand for the vocab, because a JS object lists integer-like keys
 * ("0".."9") first, and we want the file to list the vocabulary in byte (= id) order. */
export function tokenizerJsonText() {
  const marker = "__VOCAB__";
  const obj = tokenizerJson();
  obj.model.vocab = marker;
  const vocabText = "{\n" + vocabEntries().map(([k, v]) => `      ${JSON.stringify(k)}: ${v}`).join(",\n") + "\n    }";
  return JSON.stringify(obj, null, 2).replace(JSON.stringify(marker), vocabText) + "\n";
}

export function tokenizerConfig() {
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: {
      [EOT_ID]: { content: EOT, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
    },
    bos_token: EOT,
    clean_up_tokenization_spaces: false,
    eos_token: EOT,
    unk_token: EOT,
    model_max_length: 64,
    tokenizer_class: "GPT2Tokenizer",
  };
}

const utf8 = (s) => [...new TextEncoder().encode(s)];
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Loads DIR's tokenizer with @huggingface/tokenizers and checks ids = UTF-8 bytes and decode round-trips. */
export async function check(dir) {
  const { Tokenizer } = await import("@huggingface/tokenizers");
  const tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const tok = new Tokenizer(tj, tc);
  const texts = ["Hello, world!", "é", " leading space,  two spaces\nnewline\ttab", "日本語 ✓ 🙂", "a<|endoftext|>b"];
  for (const text of texts) {
    const ids = tok.encode(text).ids;
    const want = text.includes(EOT)
      ? [...utf8(text.split(EOT)[0]), EOT_ID, ...utf8(text.split(EOT)[1])]
      : utf8(text);
    if (!same(ids, want)) throw new Error(`${dir}: encode(${JSON.stringify(text)}) = [${ids}], want [${want}]`);
    const back = tok.decode(ids);
    if (back !== text) throw new Error(`${dir}: decode round-trip of ${JSON.stringify(text)} gave ${JSON.stringify(back)}`);
  }
  if (tok.token_to_id(EOT) !== EOT_ID) throw new Error(`${dir}: ${EOT} is not id ${EOT_ID}`);
  if (tok.decode([EOT_ID, 72, 105], { skip_special_tokens: true }) !== "Hi") throw new Error(`${dir}: skip_special_tokens`);
  const hello = tok.encode("Hello, world!").ids;
  if (!same(hello, [72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33])) throw new Error("Hello ids");
  if (!same(tok.encode("é").ids, [195, 169])) throw new Error("é ids");
}

async function main(argv) {
  const checkOnly = argv[0] === "--check";
  const dirs = checkOnly ? argv.slice(1) : argv;
  if (dirs.length === 0) {
    console.error("usage: node tools/make-fixture-tokenizer.mjs [--check] DIR [DIR ...]");
    process.exit(2);
  }
  for (const dir of dirs) {
    if (!checkOnly) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "tokenizer.json"), tokenizerJsonText());
      writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tokenizerConfig(), null, 2) + "\n");
    }
    await check(dir);
    console.log(`${checkOnly ? "checked" : "wrote"} ${dir} (tokenizer ok)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("make-fixture-tokenizer.mjs")) {
  await main(process.argv.slice(2));
}

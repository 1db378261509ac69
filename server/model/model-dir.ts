// A model directory in Hugging Face layout: config.json, tokenizer files and the ONNX graph, read as it is laid out.
import fs from 'node:fs';
import path from 'node:path';

/**
 * Where transformers.js and Optimum exports put the decoder graph, in the order we look. A merged decoder comes last:
 * only its no-cache branch is used (see prepare-graph.ts).
 */
export const GRAPH_CANDIDATES = [
  'onnx/model.onnx',
  'onnx/decoder_model.onnx',
  'model.onnx',
  'decoder_model.onnx',
  'onnx/decoder_model_merged.onnx',
  'decoder_model_merged.onnx',
];

/** onnxruntime-genai's model folder: this file names the graph and gives the model's shape. */
export const GENAI_CONFIG = 'genai_config.json';

export class ModelDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelDirError';
  }
}

export interface ModelConfig {
  modelType: string;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  dModel: number;
  dHead: number;
  nCtx: number;
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** config.json as read, for display. */
  raw: Record<string, unknown>;
}

export interface ModelDir {
  /**
   * What the user named: the model directory, or the graph file itself when one was given directly. Either way
   * openModelDir(dir) opens this same model again (the worker threads rely on that).
   */
  dir: string;
  name: string;
  /** config.json, or genai_config.json for an onnxruntime-genai folder. */
  configPath: string;
  graphPath: string;
  tokenizerPath: string;
  tokenizerConfigPath: string | null;
  config: ModelConfig;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ModelDirError(`${file}: cannot read the file`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ModelDirError(`${file}: not a JSON object (${(e as Error).message})`);
  }
}

function pickInt(cfg: Record<string, unknown>, file: string, keys: string[], required: boolean): number | null {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  }
  if (required) throw new ModelDirError(`${file}: needs a positive integer in one of: ${keys.join(', ')}`);
  return null;
}

function tokenId(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return null;
}

export function parseConfig(raw: Record<string, unknown>, file: string): ModelConfig {
  const nLayer = pickInt(raw, file, ['n_layer', 'num_hidden_layers', 'num_layers'], true)!;
  const nHead = pickInt(raw, file, ['n_head', 'num_attention_heads', 'num_heads'], true)!;
  const dModel = pickInt(raw, file, ['n_embd', 'hidden_size', 'd_model'], true)!;
  const dHead = pickInt(raw, file, ['head_dim'], false) ?? dModel / nHead;
  if (!Number.isInteger(dHead)) throw new ModelDirError(`${file}: hidden size ${dModel} is not divisible by ${nHead} heads`);
  return {
    modelType: typeof raw.model_type === 'string' ? raw.model_type : 'unknown',
    nLayer,
    nHead,
    nKvHead: pickInt(raw, file, ['num_key_value_heads', 'n_kv_head'], false) ?? nHead,
    dModel,
    dHead,
    nCtx: pickInt(raw, file, ['n_positions', 'max_position_embeddings', 'n_ctx', 'max_seq_len'], false) ?? 2048,
    vocabSize: pickInt(raw, file, ['vocab_size'], true)!,
    bosTokenId: tokenId(raw.bos_token_id),
    eosTokenId: tokenId(raw.eos_token_id),
    raw,
  };
}

/**
 * Model shape from an onnxruntime-genai `genai_config.json` (`model.decoder.*`, `model.context_length`,
 * `model.vocab_size`, `model.bos_token_id`, `model.eos_token_id`).
 */
export function parseGenaiConfig(raw: Record<string, unknown>, file: string): ModelConfig & { graphFile: string } {
  const model = raw.model as Record<string, unknown> | undefined;
  const dec = model?.decoder as Record<string, unknown> | undefined;
  if (!model || typeof model !== 'object' || !dec || typeof dec !== 'object') throw new ModelDirError(`${file}: needs a "model.decoder" object`);
  const graphFile = dec.filename;
  if (typeof graphFile !== 'string' || !graphFile) throw new ModelDirError(`${file}: needs "model.decoder.filename" naming the ONNX graph`);
  const flat: Record<string, unknown> = {
    model_type: model.type,
    num_hidden_layers: dec.num_hidden_layers,
    num_attention_heads: dec.num_attention_heads,
    num_key_value_heads: dec.num_key_value_heads,
    hidden_size: dec.hidden_size,
    head_dim: dec.head_size,
    max_position_embeddings: model.context_length,
    vocab_size: model.vocab_size,
    bos_token_id: model.bos_token_id,
    eos_token_id: model.eos_token_id,
  };
  return { ...parseConfig(flat, file), raw, graphFile };
}

function missing(file: string, what: string): ModelDirError {
  return new ModelDirError(`${file}: missing (${what})`);
}

/**
 * Reads and checks a model: a directory in Hugging Face layout, an onnxruntime-genai folder (genai_config.json, no
 * config.json needed), or an ONNX graph file given directly (config and tokenizer next to it or one level up, as
 * in `onnx/model_q8.onnx`). Throws a ModelDirError naming the missing or bad file.
 */
export function openModelDir(dirOrGraph: string): ModelDir {
  const abs = path.resolve(dirOrGraph);
  if (!fs.existsSync(abs)) throw new ModelDirError(`${abs}: no such model directory or ONNX file`);
  if (fs.statSync(abs).isFile()) return openGraphFile(abs);
  const genai = path.join(abs, GENAI_CONFIG);
  const configPath = path.join(abs, 'config.json');
  if (!fs.existsSync(configPath) && fs.existsSync(genai)) return openGenai(abs, genai);
  if (!fs.existsSync(configPath)) throw missing(configPath, `a model directory needs config.json, or ${GENAI_CONFIG} for an onnxruntime-genai folder`);
  const tokenizerPath = path.join(abs, 'tokenizer.json');
  if (!fs.existsSync(tokenizerPath)) throw missing(tokenizerPath, 'a model directory needs tokenizer.json');
  const graphRel = GRAPH_CANDIDATES.find((g) => fs.existsSync(path.join(abs, g)));
  if (!graphRel) throw new ModelDirError(`${abs}: no ONNX graph; looked for ${GRAPH_CANDIDATES.join(', ')}`);
  return assemble(abs, path.basename(abs), configPath, path.join(abs, graphRel), tokenizerPath, parseConfig(readJson(configPath), configPath));
}

function assemble(dir: string, name: string, configPath: string, graphPath: string, tokenizerPath: string, config: ModelConfig, given = dir): ModelDir {
  const tc = path.join(dir, 'tokenizer_config.json');
  return { dir: given, name, configPath, graphPath, tokenizerPath, tokenizerConfigPath: fs.existsSync(tc) ? tc : null, config };
}

function openGenai(dir: string, genai: string): ModelDir {
  const cfg = parseGenaiConfig(readJson(genai), genai);
  const graphPath = path.resolve(dir, cfg.graphFile);
  if (!fs.existsSync(graphPath)) throw missing(graphPath, `${genai} names it as model.decoder.filename`);
  const tokenizerPath = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokenizerPath)) throw missing(tokenizerPath, 'an onnxruntime-genai folder needs tokenizer.json next to genai_config.json');
  return assemble(dir, path.basename(dir), genai, graphPath, tokenizerPath, cfg);
}

/** A graph file given directly: its folder (or, for `onnx/x.onnx`, the folder above) must hold the config and tokenizer. */
function openGraphFile(file: string): ModelDir {
  if (!file.endsWith('.onnx')) throw new ModelDirError(`${file}: not an ONNX graph (expected a .onnx file or a model directory)`);
  const here = path.dirname(file);
  const dirs = [here, path.dirname(here)];
  const dir = dirs.find((d) => fs.existsSync(path.join(d, 'config.json')) || fs.existsSync(path.join(d, GENAI_CONFIG)));
  if (!dir) throw new ModelDirError(`${file}: no config.json (or ${GENAI_CONFIG}) next to the graph or in ${dirs[1]}; a graph file needs its model's config and tokenizer.json beside it`);
  const tokenizerPath = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokenizerPath)) throw missing(tokenizerPath, `the graph ${file} needs its tokenizer.json beside its config`);
  const stem = path.basename(file, '.onnx');
  const name = `${path.basename(dir)}-${stem}`;
  const configPath = path.join(dir, 'config.json');
  const config = fs.existsSync(configPath) ? parseConfig(readJson(configPath), configPath) : parseGenaiConfig(readJson(path.join(dir, GENAI_CONFIG)), path.join(dir, GENAI_CONFIG));
  return assemble(dir, name, fs.existsSync(configPath) ? configPath : path.join(dir, GENAI_CONFIG), file, tokenizerPath, config, file);
}

export { readJson };

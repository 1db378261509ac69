// A model directory in Hugging Face layout: config.json, tokenizer files and the ONNX graph, read as it is laid out.
import fs from 'node:fs';
import path from 'node:path';

/** Where transformers.js and Optimum exports put the decoder graph, in the order we look. */
export const GRAPH_CANDIDATES = ['onnx/model.onnx', 'onnx/decoder_model.onnx', 'model.onnx', 'decoder_model.onnx'];

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
  dir: string;
  name: string;
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

/** Reads and checks a model directory. Throws a ModelDirError naming the missing or bad file. */
export function openModelDir(dir: string): ModelDir {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new ModelDirError(`${abs}: not a model directory`);
  const configPath = path.join(abs, 'config.json');
  if (!fs.existsSync(configPath)) throw new ModelDirError(`${configPath}: missing (a model directory needs config.json)`);
  const tokenizerPath = path.join(abs, 'tokenizer.json');
  if (!fs.existsSync(tokenizerPath)) throw new ModelDirError(`${tokenizerPath}: missing (a model directory needs tokenizer.json)`);
  const tc = path.join(abs, 'tokenizer_config.json');
  const graphRel = GRAPH_CANDIDATES.find((g) => fs.existsSync(path.join(abs, g)));
  if (!graphRel) throw new ModelDirError(`${abs}: no ONNX graph; looked for ${GRAPH_CANDIDATES.join(', ')}`);
  return {
    dir: abs,
    name: path.basename(abs),
    configPath,
    graphPath: path.join(abs, graphRel),
    tokenizerPath,
    tokenizerConfigPath: fs.existsSync(tc) ? tc : null,
    config: parseConfig(readJson(configPath), configPath),
  };
}

export { readJson };

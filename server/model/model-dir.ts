// A model directory in Hugging Face layout: config.json, tokenizer files and the ONNX graph, read as it is laid out.
import fs from 'node:fs';
import path from 'node:path';
import { graphDimsOfBytes, type GraphDims } from './graph-dims.js';

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

/** What a config file states about the model's shape; null where it says nothing. */
export interface ConfigFields {
  modelType: string;
  nLayer: number | null;
  nHead: number | null;
  nKvHead: number | null;
  dModel: number | null;
  dHead: number | null;
  nCtx: number | null;
  vocabSize: number | null;
}

const KEYS = {
  nLayer: ['n_layer', 'num_hidden_layers', 'num_layers'],
  nHead: ['n_head', 'num_attention_heads', 'num_heads'],
  nKvHead: ['num_key_value_heads', 'n_kv_head'],
  dModel: ['n_embd', 'hidden_size', 'd_model'],
  dHead: ['head_dim'],
  nCtx: ['n_positions', 'max_position_embeddings', 'n_ctx', 'max_seq_len'],
  vocabSize: ['vocab_size'],
} as const;

export function configFields(raw: Record<string, unknown>, file: string): ConfigFields {
  const get = (k: keyof typeof KEYS) => pickInt(raw, file, [...KEYS[k]], false);
  return {
    modelType: typeof raw.model_type === 'string' ? raw.model_type : 'unknown',
    nLayer: get('nLayer'),
    nHead: get('nHead'),
    nKvHead: get('nKvHead'),
    dModel: get('dModel'),
    dHead: get('dHead'),
    nCtx: get('nCtx'),
    vocabSize: get('vocabSize'),
  };
}

/** True when the config leaves open something the model cannot run without (the graph may say it). */
export function needsGraphDims(f: ConfigFields): boolean {
  return f.nLayer === null || f.nHead === null || f.dModel === null || f.vocabSize === null;
}

/**
 * The model's shape: the graph's dimensions wherever it states them, the config's for the rest. A config value
 * that contradicts the graph is an error naming both; a context length above the graph's position table too
 * (a smaller one only limits the context). Without `dims`, everything comes from the config.
 */
export function resolveConfig(f: ConfigFields, file: string, dims: GraphDims | null, graphFile: string | null): Omit<ModelConfig, 'raw' | 'bosTokenId' | 'eosTokenId'> {
  const d = dims ?? {};
  const keyName = (k: keyof typeof KEYS) => KEYS[k].join(' / ');
  const pick = (k: 'nLayer' | 'nHead' | 'nKvHead' | 'dModel' | 'dHead', fromConfig: number | null): number | null => {
    const g = d[k];
    if (g && fromConfig !== null && g.value !== fromConfig) {
      throw new ModelDirError(`${file}: ${keyName(k)} is ${fromConfig}, but ${graphFile} has ${g.value} (${g.where})`);
    }
    return g?.value ?? fromConfig;
  };
  const need = (k: keyof typeof KEYS, v: number | null, what: string): number => {
    if (v !== null) return v;
    throw new ModelDirError(`${file}: needs a positive integer in one of: ${KEYS[k].join(', ')}${dims ? ` (the graph ${graphFile} does not state the ${what} either)` : ''}`);
  };
  const nLayer = need('nLayer', pick('nLayer', f.nLayer), 'layer count');
  const nHead = need('nHead', pick('nHead', f.nHead), 'head count: no fused attention node carries num_heads');
  const dModel = need('dModel', pick('dModel', f.dModel), 'hidden size: no token embedding Gather(input_ids) was found');
  const dHead = pick('dHead', f.dHead) ?? dModel / nHead;
  if (!Number.isInteger(dHead)) throw new ModelDirError(`${file}: hidden size ${dModel} is not divisible by ${nHead} heads`);
  const nKvHead = pick('nKvHead', f.nKvHead) ?? nHead;
  // The config's vocabulary may be padded beyond the embedding (ids past it are refused at run time), so the graph fills it in only.
  const vocabSize = need('vocabSize', f.vocabSize ?? d.vocabSize?.value ?? null, 'vocabulary size');
  const limit = d.nCtxLimit;
  if (limit && f.nCtx !== null && f.nCtx > limit.value) {
    throw new ModelDirError(`${file}: ${keyName('nCtx')} is ${f.nCtx}, but ${graphFile} has positions for ${limit.value} only (${limit.where})`);
  }
  return { modelType: f.modelType, nLayer, nHead, nKvHead, dModel, dHead, nCtx: f.nCtx ?? limit?.value ?? 2048, vocabSize };
}

/** A config.json (or the flattened genai config) checked against the graph's dimensions when they are given. */
export function parseConfig(raw: Record<string, unknown>, file: string, dims: GraphDims | null = null, graphFile: string | null = null): ModelConfig {
  return { ...resolveConfig(configFields(raw, file), file, dims, graphFile), bosTokenId: tokenId(raw.bos_token_id), eosTokenId: tokenId(raw.eos_token_id), raw };
}

/**
 * An onnxruntime-genai `genai_config.json` in config.json's terms (`model.decoder.*`, `model.context_length`,
 * `model.vocab_size`, `model.bos_token_id`, `model.eos_token_id`), and the graph it names. The genai model builder
 * writes head_size, num_key_value_heads and num_hidden_layers; a file that leaves out num_attention_heads or
 * hidden_size gets them from the graph (see resolveConfig).
 */
export function genaiAsConfig(raw: Record<string, unknown>, file: string): { flat: Record<string, unknown>; graphFile: string } {
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
  return { flat, graphFile };
}

/** Model shape from a genai_config.json, checked against the graph's dimensions when they are given. */
export function parseGenaiConfig(raw: Record<string, unknown>, file: string, dims: GraphDims | null = null, graphFile: string | null = null): ModelConfig & { graphFile: string } {
  const g = genaiAsConfig(raw, file);
  return { ...parseConfig(g.flat, file, dims, graphFile), raw, graphFile: g.graphFile };
}

/**
 * The config at `configPath` (config.json, or genai_config.json) for the graph at `graphPath`. The graph is read
 * only when the config leaves open what the model cannot run without; HookedModel.load checks every value against
 * the graph (withGraphDims).
 */
function configFor(configPath: string, graphPath: string): ModelConfig {
  const raw = readJson(configPath);
  const genai = path.basename(configPath) === GENAI_CONFIG;
  const flat = genai ? genaiAsConfig(raw, configPath).flat : raw;
  let dims: GraphDims | null = null;
  if (needsGraphDims(configFields(flat, configPath))) {
    try {
      dims = graphDimsOfBytes(fs.readFileSync(graphPath));
    } catch (e) {
      throw new ModelDirError(`${graphPath}: cannot read the ONNX graph for the dimensions ${configPath} leaves out (${(e as Error).message})`);
    }
  }
  return { ...parseConfig(flat, configPath, dims, graphPath), raw };
}

/** The model with its config checked against (and completed from) the graph's dimensions. */
export function withGraphDims(md: ModelDir, dims: GraphDims): ModelDir {
  const genai = path.basename(md.configPath) === GENAI_CONFIG;
  const flat = genai ? genaiAsConfig(md.config.raw, md.configPath).flat : md.config.raw;
  return { ...md, config: { ...parseConfig(flat, md.configPath, dims, md.graphPath), raw: md.config.raw } };
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
  const graphPath = path.join(abs, graphRel);
  return assemble(abs, path.basename(abs), configPath, graphPath, tokenizerPath, configFor(configPath, graphPath));
}

function assemble(dir: string, name: string, configPath: string, graphPath: string, tokenizerPath: string, config: ModelConfig, given = dir): ModelDir {
  const tc = path.join(dir, 'tokenizer_config.json');
  return { dir: given, name, configPath, graphPath, tokenizerPath, tokenizerConfigPath: fs.existsSync(tc) ? tc : null, config };
}

function openGenai(dir: string, genai: string): ModelDir {
  const graphPath = path.resolve(dir, genaiAsConfig(readJson(genai), genai).graphFile);
  if (!fs.existsSync(graphPath)) throw missing(graphPath, `${genai} names it as model.decoder.filename`);
  const tokenizerPath = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokenizerPath)) throw missing(tokenizerPath, 'an onnxruntime-genai folder needs tokenizer.json next to genai_config.json');
  return assemble(dir, path.basename(dir), genai, graphPath, tokenizerPath, configFor(genai, graphPath));
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
  const configPath = fs.existsSync(path.join(dir, 'config.json')) ? path.join(dir, 'config.json') : path.join(dir, GENAI_CONFIG);
  return assemble(dir, name, configPath, file, tokenizerPath, configFor(configPath, file), file);
}

export { readJson };

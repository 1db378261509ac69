// Export layouts users bring: logits_to_keep inputs, merged decoders, onnxruntime-genai folders, graph files given
// directly, hidden-states-only graphs, embeddings smaller than the tokenizer; each works or is refused by name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HookedModel } from '../server/engine/hooked-model.js';
import { decodeModel, encodeModel, onnx, type ModelProto, type NodeProto } from '../server/engine/onnx-graph.js';
import { openModelDir } from '../server/model/model-dir.js';
import { unknownFields } from '../server/engine/onnx-schema-check.js';
import protobuf from 'protobufjs/minimal.js';
import { ModelRegistry } from '../server/model/registry.js';
import { buildGpt2Onnx, randomGpt2Weights } from '../scripts/make-random-gpt2.js';
import { FUSED_SHAPE, GOLDEN_INPUT } from '../scripts/make-fused-fixtures.js';
import { FIXTURES } from './helpers/golden.js';

const TOL = 1e-4;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-layouts-'));
const cacheDir = path.join(tmp, 'graphs');
const models: HookedModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function load(dir: string): HookedModel {
  const m = HookedModel.load(dir, { cacheDir, threads: 1 });
  models.push(m);
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const EAGER = path.join(FIXTURES, 'gpt2-tiny-eager');
const HOOKS = ['blocks.1.attn.hook_pattern', 'blocks.0.hook_resid_post', 'ln_final.hook_normalized'];

/** A copy of the eager fixture whose graph is replaced by `edit(graph)` and written at `graphRel`. */
function variant(name: string, graphRel: string, edit: (m: ModelProto) => void, base = EAGER): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, path.dirname(graphRel)), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) if (fs.existsSync(path.join(base, f))) fs.copyFileSync(path.join(base, f), path.join(dir, f));
  const m = decodeModel(fs.readFileSync(path.join(base, 'onnx/model.onnx')));
  edit(m);
  fs.writeFileSync(path.join(dir, graphRel), encodeModel(m));
  return dir;
}

let reference: Awaited<ReturnType<HookedModel['run']>> | null = null;
async function eagerReference() {
  reference ??= await load(EAGER).run({ tokens: [GOLDEN_INPUT], hooks: HOOKS });
  return reference;
}

async function expectSameAsEager(m: HookedModel) {
  const ref = await eagerReference();
  const r = await m.run({ tokens: [GOLDEN_INPUT], hooks: HOOKS });
  expect(maxDiff(r.logits!.data, ref.logits!.data)).toBeLessThan(TOL);
  for (const h of HOOKS) expect(maxDiff(r.cache.get(h)!.data, ref.cache.get(h)!.data), h).toBeLessThan(TOL);
  const rows = await m.run({ tokens: [GOLDEN_INPUT], logitRows: [3, 9], targets: [[1, 2]], logits: false });
  expect(rows.targetLogprobs!.dims).toEqual([1, 2]);
}

const i64Init = (name: string, values: number[]) =>
  onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], rawData: new Uint8Array(BigInt64Array.from(values, BigInt).buffer) });

/** Inserts hidden[:, -k:] before the LM head, with k a new scalar int64 input `name` (as transformers exports do). */
function addLogitsToKeep(m: ModelProto, name: string): void {
  const g = m.graph!;
  const head = g.node!.find((n) => n.name === '/lm_head/MatMul')!;
  const hidden = head.input![0];
  const nodes: NodeProto[] = [
    onnx.NodeProto.create({ opType: 'Neg', name: 'ltk/neg', input: [name], output: ['ltk/negk'] }),
    onnx.NodeProto.create({ opType: 'Unsqueeze', name: 'ltk/unsq', input: ['ltk/negk', 'ltk/zero_axis'], output: ['ltk/start'] }),
    onnx.NodeProto.create({ opType: 'Slice', name: 'ltk/slice', input: [hidden, 'ltk/start', 'ltk/end', 'ltk/axis'], output: ['ltk/kept'] }),
  ];
  g.initializer!.push(i64Init('ltk/zero_axis', [0]), i64Init('ltk/end', [2 ** 31 - 1]), i64Init('ltk/axis', [1]));
  head.input![0] = 'ltk/kept';
  g.node!.splice(g.node!.indexOf(head), 0, ...nodes);
  g.input!.push(onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: onnx.TensorProto.DataType.INT64, shape: onnx.TensorShapeProto.create({ dim: [] }) }) }) }));
}

describe('logits_to_keep inputs', () => {
  for (const name of ['logits_to_keep', 'num_logits_to_keep']) {
    it(`a graph with a "${name}" input runs with every row kept: logits, hooks, rows and targets equal the plain export`, async () => {
      const m = load(variant(`ltk-${name}`, 'onnx/model.onnx', (g) => addLogitsToKeep(g, name)));
      await expectSameAsEager(m);
    });
  }
});

/**
 * Optimum-style decoder_model_merged.onnx: If(use_cache_branch) with the past-reading decoder in then_branch and a
 * no-cache decoder (presents from the new tokens only) in else_branch; weights shared at top level.
 */
function mergedDecoder(): ModelProto {
  const w = randomGpt2Weights(FUSED_SHAPE, FUSED_SHAPE.seed);
  const withPast = buildGpt2Onnx(FUSED_SHAPE, w, { attention: 'eager', past: true });
  const g = withPast.graph!;
  const inputs = new Set((g.input ?? []).map((i) => i.name!));
  const inits = new Set((g.initializer ?? []).map((t) => t.name!));
  const branch = (tag: string, noPast: boolean) => {
    const rename = (t: string) => (!t || inputs.has(t) || inits.has(t) ? t : `${tag}/${t}`);
    const nodes = (g.node ?? []).map((n) => {
      const c = onnx.NodeProto.create({ ...n, name: `${tag}/${n.name}`, input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename) });
      if (noPast && n.opType === 'Concat' && n.input?.[0]?.startsWith('past_key_values.')) {
        c.opType = 'Identity';
        c.input = [rename(n.input[1])];
        c.attribute = [];
      }
      return c;
    });
    return onnx.GraphProto.create({ name: tag, node: nodes, output: (g.output ?? []).map((o) => onnx.ValueInfoProto.create({ ...o, name: rename(o.name!) })) });
  };
  const ifNode = onnx.NodeProto.create({
    opType: 'If',
    name: 'optimum::if',
    input: ['use_cache_branch'],
    output: (g.output ?? []).map((o) => o.name!),
    attribute: [
      onnx.AttributeProto.create({ name: 'then_branch', g: branch('with_past', false), type: onnx.AttributeProto.AttributeType.GRAPH }),
      onnx.AttributeProto.create({ name: 'else_branch', g: branch('no_past', true), type: onnx.AttributeProto.AttributeType.GRAPH }),
    ],
  });
  const boolIn = onnx.ValueInfoProto.create({ name: 'use_cache_branch', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: onnx.TensorProto.DataType.BOOL, shape: onnx.TensorShapeProto.create({ dim: [onnx.TensorShapeProto.Dimension.create({ dimValue: 1 })] }) }) }) });
  return onnx.ModelProto.create({ ...withPast, graph: onnx.GraphProto.create({ name: 'merged', node: [ifNode], initializer: g.initializer, input: [...(g.input ?? []), boolIn], output: g.output }) });
}

describe('merged decoders (decoder_model_merged.onnx)', () => {
  it('the no-cache branch is used: found in the directory, hooks and logits equal the plain export, no past offered', async () => {
    const dir = variant('merged', 'onnx/decoder_model_merged.onnx', (m) => Object.assign(m, mergedDecoder()));
    expect(openModelDir(dir).graphPath).toBe(path.join(dir, 'onnx/decoder_model_merged.onnx'));
    const m = load(dir);
    await expectSameAsEager(m);
    expect(m.supportsPast).toBe(false);
  });
});

describe('onnxruntime-genai folders', () => {
  function genaiDir(name: string, withTokenizer = true): string {
    const src = path.join(FIXTURES, 'llama-tiny-gqa-rotary');
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(src, 'onnx/model.onnx'), path.join(dir, 'model.onnx'));
    if (withTokenizer) fs.copyFileSync(path.join(src, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as Record<string, number>;
    const genai = {
      model: {
        bos_token_id: 256,
        eos_token_id: 256,
        context_length: cfg.max_position_embeddings,
        vocab_size: cfg.vocab_size,
        type: 'llama',
        decoder: {
          filename: 'model.onnx',
          head_size: cfg.hidden_size / cfg.num_attention_heads,
          hidden_size: cfg.hidden_size,
          num_attention_heads: cfg.num_attention_heads,
          num_hidden_layers: cfg.num_hidden_layers,
          num_key_value_heads: cfg.num_key_value_heads,
          inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', past_key_names: 'past_key_values.%d.key', past_value_names: 'past_key_values.%d.value' },
        },
      },
    };
    fs.writeFileSync(path.join(dir, 'genai_config.json'), JSON.stringify(genai, null, 2));
    return dir;
  }

  it('genai_config.json names the graph and gives the shape (no config.json): hooks equal the eager Llama export', async () => {
    const dir = genaiDir('genai');
    const md = openModelDir(dir);
    expect(md.graphPath).toBe(path.join(dir, 'model.onnx'));
    expect([md.config.nLayer, md.config.nHead, md.config.nKvHead, md.config.dHead]).toEqual([2, 4, 2, 16]);
    const hooks = ['blocks.1.attn.hook_pattern', 'blocks.1.attn.hook_value_norm', 'blocks.0.hook_resid_mid'];
    const ref = await load(path.join(FIXTURES, 'llama-tiny-eager')).run({ tokens: [GOLDEN_INPUT], hooks });
    const r = await load(dir).run({ tokens: [GOLDEN_INPUT], hooks });
    expect(maxDiff(r.logits!.data, ref.logits!.data)).toBeLessThan(TOL);
    for (const h of hooks) expect(maxDiff(r.cache.get(h)!.data, ref.cache.get(h)!.data), h).toBeLessThan(TOL);
  });

  it('a genai folder without tokenizer.json is refused naming the missing file', () => {
    const dir = genaiDir('genai-no-tok', false);
    expect(() => openModelDir(dir)).toThrow(`${path.join(dir, 'tokenizer.json')}: missing`);
  });

  it('a genai_config.json naming a graph that is not there is refused naming both files', () => {
    const dir = genaiDir('genai-bad-graph');
    fs.rmSync(path.join(dir, 'model.onnx'));
    expect(() => openModelDir(dir)).toThrow(new RegExp(`model\\.onnx: missing \\(.*genai_config\\.json names it as model\\.decoder\\.filename\\)`));
  });
});

describe('a graph file given directly', () => {
  it('onnx/<file>.onnx uses the config and tokenizer one level up, and is a model of its own next to the directory', async () => {
    const dir = variant('direct', 'onnx/model.onnx', () => undefined);
    fs.copyFileSync(path.join(dir, 'onnx/model.onnx'), path.join(dir, 'onnx/model_other.onnx'));
    const md = openModelDir(path.join(dir, 'onnx/model_other.onnx'));
    expect(md.graphPath).toBe(path.join(dir, 'onnx/model_other.onnx'));
    expect(md.configPath).toBe(path.join(dir, 'config.json'));
    expect(md.name).toBe('direct-model_other');
    // md.dir is what the worker threads reopen: it must lead back to this graph, not the directory's default one.
    expect(openModelDir(md.dir).graphPath).toBe(md.graphPath);
    const reg = new ModelRegistry([dir, path.join(dir, 'onnx/model_other.onnx')], false);
    expect(reg.list().map((m) => m.id)).toEqual(['direct', 'direct-model_other']);
    const r = await load(md.dir).run({ tokens: [GOLDEN_INPUT] });
    expect(maxDiff(r.logits!.data, (await eagerReference()).logits!.data)).toBeLessThan(TOL);
  });

  it('a graph file with no config.json near it is refused saying what is missing', () => {
    const dir = path.join(tmp, 'lonely');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(EAGER, 'onnx/model.onnx'), path.join(dir, 'model.onnx'));
    expect(() => openModelDir(path.join(dir, 'model.onnx'))).toThrow(/model\.onnx: no config\.json \(or genai_config\.json\) next to the graph/);
    fs.copyFileSync(path.join(EAGER, 'config.json'), path.join(dir, 'config.json'));
    expect(() => openModelDir(path.join(dir, 'model.onnx'))).toThrow(`${path.join(dir, 'tokenizer.json')}: missing`);
  });

  it('a file that is not .onnx is refused', () => {
    expect(() => openModelDir(path.join(EAGER, 'config.json'))).toThrow(/not an ONNX graph/);
  });
});

/** The eager fixture cut before its LM head: the graph outputs last_hidden_state (GPT2Model). */
function hiddenOnly(m: ModelProto): void {
  const g = m.graph!;
  const head = g.node!.find((n) => n.name === '/lm_head/MatMul')!;
  const hidden = head.input![0];
  g.node = g.node!.filter((n) => n !== head && n.name !== '/lm_head/Transpose');
  g.node.push(onnx.NodeProto.create({ opType: 'Identity', name: 'out', input: [hidden], output: ['last_hidden_state'] }));
  g.output = [onnx.ValueInfoProto.create({ name: 'last_hidden_state', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: 1 }) }) }), ...g.output!.slice(1)];
}

describe('graphs that output hidden states without an LM head', () => {
  it('get the tied unembedding appended: logits, hooks, rows and targets equal the export with its head', async () => {
    const m = load(variant('hidden', 'onnx/model.onnx', hiddenOnly));
    await expectSameAsEager(m);
  });

  it('are refused with "no logits" when config.json says the embeddings are not tied', async () => {
    const dir = variant('hidden-untied', 'onnx/model.onnx', hiddenOnly);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, tie_word_embeddings: false }));
    await expect(load(dir).run({ tokens: [[256, 1]] })).rejects.toThrow(/onnx\/model\.onnx: the graph has no logits output .*tie_word_embeddings is false/);
  });
});

describe('token ids the embedding has no row for', () => {
  it('a config.json vocab_size larger than the graph embedding: such ids are refused naming the sizes', async () => {
    const dir = variant('big-vocab', 'onnx/model.onnx', () => undefined);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, vocab_size: 300 }));
    const m = load(dir);
    await expect(m.run({ tokens: [[256, 280]] })).rejects.toThrow(/tokens: id 280 has no row in the model's embedding \(257 rows in .*; config\.json says vocab_size 300\)/);
    expect((await m.run({ tokens: [[256, 200]] })).logits!.dims).toEqual([1, 2, 257]);
  });
});

describe('errors about a rewritten graph name the user\'s file', () => {
  it('a graph onnxruntime cannot load as exported is reported as the model\'s own file failing, with no cache path', async () => {
    const dir = variant('unloadable', 'onnx/model.onnx', (m) => {
      m.graph!.node!.push(onnx.NodeProto.create({ opType: 'NoSuchOp', domain: 'com.example', name: 'mystery', input: ['logits'], output: ['mystery_out'] }));
      m.graph!.output!.push(onnx.ValueInfoProto.create({ name: 'mystery_out', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: 1 }) }) }));
      m.opsetImport!.push(onnx.OperatorSetIdProto.create({ domain: 'com.example', version: 1 }));
    });
    const m = load(dir);
    const err = await m.run({ tokens: [[256, 1]], hooks: ['blocks.0.hook_resid_pre'] }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message.startsWith(`${path.join(dir, 'onnx/model.onnx')}: onnxruntime cannot load this model's graph as exported (before any rewriting): `)).toBe(true);
    expect(err!.message).toMatch(/NoSuchOp/);
    expect(err!.message).not.toContain(path.join(cacheDir, ''));
  });
});

describe('a graph that loads as exported but not as rewritten', () => {
  it('says that only the rewrite fails, with the rewrite\'s message and the cache file named as such', async () => {
    // A node already named like one surgery adds: the original loads, the rewritten graph has two nodes of that name.
    const dir = variant('rewrite-clash', 'onnx/model.onnx', (m) => {
      m.graph!.node!.push(onnx.NodeProto.create({ opType: 'Identity', name: 'precache_lens/blocks.0.hook_resid_pre', input: ['logits'], output: ['clash_out'] }));
      m.graph!.output!.push(onnx.ValueInfoProto.create({ name: 'clash_out', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: 1 }) }) }));
    });
    const m = load(dir);
    expect((await m.run({ tokens: [[256, 1]] })).logits!.dims).toEqual([1, 2, 257]);
    const err = await m.run({ tokens: [[256, 1]], hooks: ['blocks.0.hook_resid_pre'] }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message.startsWith(`${path.join(dir, 'onnx/model.onnx')}: onnxruntime loads this graph as exported, but not as rewritten for hooks and interventions (cached as `)).toBe(true);
    expect(err!.message).toMatch(/precache_lens\/blocks\.0\.hook_resid_pre/);
    expect(err!.message).not.toContain(path.join(cacheDir, ''));
  });
});

describe('IR versions newer than the carried schema', () => {
  const entry = (w: protobuf.Writer, field: number, key: string, value: string) => {
    w.uint32((field << 3) | 2).fork().uint32(10).string(key).uint32(18).string(value).ldelim();
  };
  /** ModelProto { ir_version, graph { node { op_type Relu, extra node fields }, extra graph fields } , extra model fields }. */
  function model(ir: number, nodeExtra: (w: protobuf.Writer) => void, modelExtra: (w: protobuf.Writer) => void = () => undefined): Uint8Array {
    const w = protobuf.Writer.create();
    w.uint32(8).int64(ir);
    w.uint32(58).fork(); // graph
    w.uint32(10).fork(); // node
    w.uint32(34).string('Relu');
    nodeExtra(w);
    w.ldelim();
    entry(w, 16, 'graph.note', 'x'); // GraphProto.metadata_props (IR 10)
    w.ldelim();
    modelExtra(w);
    return w.finish();
  }

  it('annotations of newer IR versions (metadata_props) are not counted as lost', () => {
    expect(unknownFields(model(10, (w) => entry(w, 9, 'pkg.torch.onnx.stack_trace', 'f.py:1')))).toEqual([]);
  });

  it('fields that change meaning (NodeProto.overload, ModelProto.configuration) are found', () => {
    const found = unknownFields(model(11, (w) => w.uint32(66).string('v2'), (w) => w.uint32(210).fork().uint32(10).string('cfg').ldelim()));
    expect(found.map((f) => f.what)).toEqual(['NodeProto.overload (IR 10 function overloads)', 'ModelProto.configuration (IR 11 device configurations)']);
  });

  it('the engine refuses such a file naming it and the IR versions; a newer IR version using nothing new runs', async () => {
    const bad = variant('ir11', 'onnx/model.onnx', () => undefined);
    const file = path.join(bad, 'onnx/model.onnx');
    const m = decodeModel(fs.readFileSync(file));
    m.irVersion = 11;
    const extra = protobuf.Writer.create();
    extra.uint32(210).fork().uint32(10).string('cfg').ldelim();
    fs.writeFileSync(file, Buffer.concat([encodeModel(m), extra.finish()]));
    await expect(load(bad).run({ tokens: [[256, 1]], hooks: ['blocks.0.hook_resid_pre'] })).rejects.toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: IR version 11 is newer than the ONNX schema this build reads \\(IR 8\\).*ModelProto\\.configuration`),
    );
    const ok = variant('ir10', 'onnx/model.onnx', (g) => {
      g.irVersion = 10;
    });
    await expectSameAsEager(load(ok));
  });
});

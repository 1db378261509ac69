// Graph surgery on graphs it cannot reach into (attention inside If subgraphs).
import { describe, expect, it } from 'vitest';
import { onnx, TensorType } from '../server/engine/onnx-graph.js';
import { analyzeModel, addHooks, GraphStructureError } from '../server/engine/surgery.js';

function valueInfo(name: string) {
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: TensorType.FLOAT }) }) });
}

/** A graph whose only Softmax + probs@V sit inside an If branch, as in merged decoders. */
function modelWithAttentionInIf() {
  const branch = (name: string, withAttention: boolean) =>
    onnx.GraphProto.create({
      name,
      node: withAttention
        ? [
            onnx.NodeProto.create({ opType: 'Softmax', input: ['scores'], output: ['probs'], name: 'attn_softmax' }),
            onnx.NodeProto.create({ opType: 'MatMul', input: ['probs', 'v'], output: ['y'], name: 'attn_pv' }),
          ]
        : [onnx.NodeProto.create({ opType: 'Identity', input: ['v'], output: ['y'], name: 'skip' })],
      output: [valueInfo('y')],
    });
  const ifNode = onnx.NodeProto.create({
    opType: 'If',
    name: 'use_cache_branch_if',
    input: ['cond'],
    output: ['logits'],
    attribute: [
      onnx.AttributeProto.create({ name: 'then_branch', g: branch('then', true), type: onnx.AttributeProto.AttributeType.GRAPH }),
      onnx.AttributeProto.create({ name: 'else_branch', g: branch('else', false), type: onnx.AttributeProto.AttributeType.GRAPH }),
    ],
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 14 })],
    graph: onnx.GraphProto.create({
      name: 'merged',
      node: [ifNode],
      input: [valueInfo('scores'), valueInfo('v'), onnx.ValueInfoProto.create({ name: 'cond', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: TensorType.BOOL }) }) })],
      output: [valueInfo('logits')],
    }),
  });
}

describe('graph surgery on attention it cannot reach', () => {
  it('attention inside an If subgraph is reported naming the If node and the file, and hooks on it fail clearly', () => {
    const m = modelWithAttentionInIf();
    const s = analyzeModel(m, { file: 'merged/decoder_model_merged.onnx', nHead: 2, dHead: 4, nLayer: 1 });
    expect(s.attentionProblem).toMatch(/merged\/decoder_model_merged\.onnx: attention sits inside a subgraph of the operator If node "use_cache_branch_if"/);
    expect(() => addHooks(m, s, ['blocks.0.attn.hook_pattern'])).toThrow(GraphStructureError);
  });
});

// com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization: the residual add they hide becomes an Add,
// so the residual stream (their input_skip_bias_sum) is a tensor surgery can find between blocks.
import { TensorType, type NodeProto } from '../onnx-graph.js';
import type { UnfuseContext } from './context.js';
import type { Emitter } from './emit.js';

const PROJECTIONS = new Set(['MatMul', 'Gemm', 'MatMulNBits', 'MatMulInteger', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat']);

export function unfuseSkipNorm(ctx: UnfuseContext, n: NodeProto, e: Emitter, simplified: boolean): void {
  if (ctx.outputUsed(n, 1) || ctx.outputUsed(n, 2)) throw ctx.fail(n, 'outputs mean / inv_std_var are used');
  const a = ctx.input(n, 0)!;
  const b = ctx.input(n, 1)!;
  const gamma = ctx.input(n, 2)!;
  const beta = simplified ? null : ctx.input(n, 3);
  const bias = ctx.input(n, simplified ? 3 : 4);
  const eps = ctx.floatAttr(n, 'epsilon', 1e-12) ?? 1e-12;
  // The bias belongs to the projection (so the projection's output plus bias is the branch surgery sees).
  const isProj = (t: string) => PROJECTIONS.has(ctx.ix.producer.get(t)?.opType ?? '');
  const [branch, stream] = isProj(b) && !isProj(a) ? [b, a] : [a, b];
  const biased = bias ? e.op('Add', [branch, bias]) : branch;
  const sumName = ctx.outputUsed(n, 3) ? n.output![3] : undefined;
  const sum = e.op('Add', [stream, biased], {}, sumName);
  const out = n.output![0];
  if (!simplified) {
    e.op('LayerNormalization', beta ? [sum, gamma, beta] : [sum, gamma], { axis: -1, epsilon: { f: eps } }, out);
    return;
  }
  // RMS norm in float32 (as onnxruntime computes it), then back to the graph's type.
  const wide = e.floatType !== TensorType.FLOAT;
  const x = wide ? e.cast(sum, TensorType.FLOAT) : sum;
  const ms = e.reduceMean(e.op('Mul', [x, x]), [-1]);
  const epsName = e.f(eps);
  const epsF = wide ? e.cast(epsName, TensorType.FLOAT) : epsName;
  const normed = e.op('Div', [x, e.op('Sqrt', [e.op('Add', [ms, epsF])])]);
  const back = wide ? e.cast(normed, e.floatType) : normed;
  e.op('Mul', [back, gamma], {}, out);
}

// Un-fusing: replaces fused attention and fused residual norms by their definitions in standard ONNX ops, so that
// every hook and intervention works on an onnxruntime-optimized or genai export exactly as on an eager one.
import { num, type ModelProto, type NodeProto } from '../onnx-graph.js';
import { UnfuseContext, UnfuseError } from './context.js';
import { Emitter } from './emit.js';
import { unfuseGqa } from './gqa.js';
import { unfuseMha } from './mha.js';
import { unfuseMsAttention } from './ms-attention.js';
import { unfuseOnnxAttention } from './onnx-attention.js';
import { unfuseSkipNorm } from './skip-norm.js';

export { UnfuseError };

type Rule = (ctx: UnfuseContext, n: NodeProto, e: Emitter) => void;

const MS = 'com.microsoft';

/** Rules by `domain/opType`; the default domain is written ''. */
const RULES: Record<string, Rule> = {
  [`${MS}/Attention`]: unfuseMsAttention,
  [`${MS}/MultiHeadAttention`]: unfuseMha,
  [`${MS}/GroupQueryAttention`]: unfuseGqa,
  [`${MS}/SkipLayerNormalization`]: (c, n, e) => unfuseSkipNorm(c, n, e, false),
  [`${MS}/SkipSimplifiedLayerNormalization`]: (c, n, e) => unfuseSkipNorm(c, n, e, true),
  '/Attention': unfuseOnnxAttention,
};

function ruleKey(n: NodeProto): string {
  const d = n.domain ?? '';
  return `${d === 'ai.onnx' ? '' : d}/${n.opType ?? ''}`;
}

export interface UnfusedNode {
  domain: string;
  opType: string;
  name: string;
}

/** The default-domain opset the model imports (what new standard nodes must conform to). */
export function defaultOpset(model: ModelProto): number {
  const o = (model.opsetImport ?? []).find((x) => !x.domain || x.domain === 'ai.onnx');
  return o?.version != null ? num(o.version) : 14;
}

/** True when the top-level graph holds an operator that un-fusing replaces. */
export function needsUnfuse(model: ModelProto): boolean {
  return (model.graph?.node ?? []).some((n) => RULES[ruleKey(n)] !== undefined);
}

/**
 * Replaces, in place, every fused node the rules know by standard ops (same input and output names, so the rest of
 * the graph is untouched). Throws an UnfuseError naming the node, the attribute or input, and the file when a
 * node's configuration has no expansion. Returns the replaced nodes.
 */
export function unfuseModel(model: ModelProto, file: string): UnfusedNode[] {
  const g = model.graph;
  if (!g?.node?.some((n) => RULES[ruleKey(n)] !== undefined)) return [];
  const opset = defaultOpset(model);
  const ctx = new UnfuseContext(g, file, opset);
  const done: UnfusedNode[] = [];
  const out: NodeProto[] = [];
  const inits = [];
  let k = 0;
  for (const n of g.node) {
    const rule = RULES[ruleKey(n)];
    if (!rule) {
      out.push(n);
      continue;
    }
    const first = (n.input ?? []).find((i) => !!i) ?? '';
    const e = new Emitter(`precache_lens/unfused/${k++}/${n.name || n.opType}`, ctx.floatType(first), opset);
    rule(ctx, n, e);
    out.push(...e.nodes);
    inits.push(...e.inits);
    done.push({ domain: n.domain ?? '', opType: n.opType ?? '', name: n.name ?? '' });
  }
  g.node = out;
  g.initializer = [...(g.initializer ?? []), ...inits];
  return done;
}

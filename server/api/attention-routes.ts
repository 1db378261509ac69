// POST /api/runs/:id/attention: one layer and head's attention pattern over a run's sequence, recomputed on the engine.
import { Router } from 'express';
import type { HeadlineStage } from '../../shared/analysis.js';
import { AttentionRequestSchema, type AttentionPattern, type TokenRole } from '../../shared/attention.js';
import { hookName } from '../../shared/hooks.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { ModelRegistry } from '../model/registry.js';
import type { RunStore } from '../store/run-store.js';
import { HttpError } from '../http-error.js';
import { parse, requireRun, uuidParam, wrap } from './http.js';

export interface AttentionDeps {
  engine: EngineClient;
  registry: ModelRegistry;
  store: RunStore;
}

/** Past this length the T×T pattern stops being a view (about 2 M numbers); the activations export still has it. */
export const MAX_PATTERN_TOKENS = 2048;

/** What the pattern needs of a run: its tokens and model, from the full result or, while it runs, the headline stage. */
type RunTokens = Pick<HeadlineStage, 'model' | 'bos' | 'prompt' | 'input' | 'p' | 'n'>;

function runTokens(run: { result: unknown; stages: Record<string, unknown> }): RunTokens | null {
  const r = (run.result ?? run.stages?.headline ?? null) as RunTokens | null;
  return r && Array.isArray(r.prompt?.tokens) && Array.isArray(r.input?.tokens) ? r : null;
}

// Four significant digits are finer than any colour or tooltip shows and keep a 1024-token pattern near 4 MB of JSON.
const round = (v: number) => (v === 0 ? 0 : Number(v.toPrecision(4)));

/** Rows of a [T,T] slice as causal triangles; with norms, A_ij·‖v_j W_O‖ renormalised per row. */
export function patternRows(pattern: Float32Array, offset: number, T: number, norms: Float32Array | null, normOffset = 0): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < T; i++) {
    const row = new Array<number>(i + 1);
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      const w = pattern[offset + i * T + j] * (norms ? norms[normOffset + j] : 1);
      row[j] = w;
      sum += w;
    }
    for (let j = 0; j <= i; j++) row[j] = round(norms ? (sum > 0 ? row[j] / sum : 0) : row[j]);
    rows.push(row);
  }
  return rows;
}

export function attentionRouter(d: AttentionDeps): Router {
  const r = Router();
  r.post(
    '/runs/:id/attention',
    wrap(async (req, res) => {
      const id = uuidParam(req);
      const body = parse(AttentionRequestSchema, req.body ?? {});
      const run = requireRun(d.store, id);
      const toks = runTokens(run);
      if (!toks) throw new HttpError(409, `id: run ${id} is ${run.status} and has no tokens yet (its headline stage is not done)`, 'id');
      const { nLayer, nHead } = toks.model;
      if (body.layer >= nLayer) throw new HttpError(400, `layer: ${body.layer} does not exist (the model has layers 0..${nLayer - 1})`, 'layer');
      if (body.head >= nHead) throw new HttpError(400, `head: ${body.head} does not exist (the model has heads 0..${nHead - 1})`, 'head');
      const model = d.registry.get(run.modelId);
      if (!model) throw new HttpError(409, `id: run ${id} ran on model ${run.modelId}, which this server no longer offers`, 'id');
      const info = await d.engine.info(model.md.dir);
      if (info.modelHash !== toks.model.hash) throw new HttpError(409, `id: model ${run.modelId}'s graph changed since run ${id} (sha256 differs); its attention cannot be reproduced`, 'id');

      const seq = [toks.bos.id, ...toks.prompt.tokens.map((t) => t.id), ...toks.input.tokens.map((t) => t.id)];
      const T = seq.length;
      if (T > MAX_PATTERN_TOKENS) throw new HttpError(422, `id: run ${id} has ${T} tokens, more than the pattern view's ${MAX_PATTERN_TOKENS}; export blocks.${body.layer}.attn.hook_pattern as activations instead`, 'id');
      const patternHook = hookName(body.layer, 'attn.hook_pattern');
      const normHook = body.normWeighted ? hookName(body.layer, 'attn.hook_value_norm') : null;
      const out = await d.engine.run(model.md.dir, { tokens: [seq], positionIds: [seq.map((_, i) => i)], hooks: normHook ? [patternHook, normHook] : [patternHook], logits: false });
      const pat = out.cache.get(patternHook);
      if (!pat) throw new Error(`the engine returned no tensor for ${patternHook}`);
      const norm = normHook ? out.cache.get(normHook) : undefined;
      if (normHook && !norm) throw new Error(`the engine returned no tensor for ${normHook}`);
      // pattern [1,H,T,T], value norm [1,H,T]
      const normData = norm ? norm.data : null;
      const weights = patternRows(pat.data, body.head * T * T, T, normData, body.head * T);
      const role = (t: number): TokenRole => (t === 0 ? 'bos' : t <= toks.p ? 'prompt' : 'input');
      const answer: AttentionPattern = {
        runId: id,
        layer: body.layer,
        head: body.head,
        normWeighted: !!normHook,
        hooks: { pattern: patternHook, valueNorm: normHook },
        tokens: [toks.bos.text, ...toks.prompt.tokens.map((t) => t.text), ...toks.input.tokens.map((t) => t.text)].map((text, t) => ({ text, role: role(t) })),
        p: toks.p,
        n: toks.n,
        weights,
        valueNorms: normData ? Array.from(normData.subarray(body.head * T, body.head * T + T), round) : null,
      };
      res.json(answer);
    }),
  );
  return r;
}

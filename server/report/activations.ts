// Raw activations of a run for Python: picks hooks (names or globs), estimates the file size, reruns the with-prompt
// forward with exactly those hooks and lays the tensors out as one safetensors file named by hook.
import { createRequire } from 'node:module';
import type { AnalysisResult } from '../../shared/analysis.js';
import { isGlob, matchHooks, parseHookName, validateHookNames, type GlobalHook, type LayerHookKind } from '../../shared/hooks.js';
import type { EngineClient } from '../worker/engine-client.js';
import { ReportInputError } from './build.js';
import { safetensorsChunks, safetensorsHeader } from './safetensors.js';
import { settings } from '../settings.js';

const require = createRequire(import.meta.url);

export const ACTIVATIONS_FORMAT = 'precache-lens.activations/1';

/** The export size limit in bytes: PRECACHE_LENS_MAX_EXPORT_MB (MiB), default 512, read at call time. */
export function maxExportBytes(env: NodeJS.ProcessEnv = process.env): number {
  return settings(env).maxExportMB * 2 ** 20;
}

/**
 * Expands hook names and globs (`*` any run of characters, `?` one; a lone `*` is every hook) into hook names in the
 * canonical layer-major order. Throws a ReportInputError naming `hooks.k` for an entry that names or matches nothing.
 */
export function resolveHooks(patterns: readonly string[], nLayers: number): string[] {
  if (patterns.length === 0) throw new ReportInputError('hooks: pick at least one hook (names like blocks.0.hook_resid_pre, or globs like blocks.*.attn.hook_pattern)', 'hooks');
  const picked = new Set<string>();
  patterns.forEach((pat, k) => {
    if (isGlob(pat)) {
      let hits: string[];
      try {
        hits = matchHooks(pat, nLayers);
      } catch (e) {
        throw new ReportInputError(`hooks.${k}: ${(e as Error).message}`, `hooks.${k}`);
      }
      if (hits.length === 0) throw new ReportInputError(`hooks.${k}: "${pat}" matches no hook of this ${nLayers}-layer model`, `hooks.${k}`);
      hits.forEach((h) => picked.add(h));
    } else {
      try {
        validateHookNames([pat], nLayers);
      } catch (e) {
        throw new ReportInputError(`hooks.${k}: ${(e as Error).message}`, `hooks.${k}`);
      }
      picked.add(pat);
    }
  });
  const hooks = validateHookNames([...picked], nLayers);
  // Every entry was checked above, so nothing may vanish here; if it did, running would be a silent guess.
  if (hooks.length !== picked.size) throw new ReportInputError(`hooks: ${[...picked].filter((h) => !hooks.includes(h)).join(', ')} is not a canonical hook name`, 'hooks');
  return hooks;
}

export interface ShapeConfig {
  nHead: number;
  dModel: number;
  dHead: number;
  vocabSize: number;
}

/** A hook's tensor shape for one sequence of T tokens (batch dimension 1 kept), from the model config alone. */
export function hookShape(hook: string, c: ShapeConfig, T: number): number[] {
  const ref = parseHookName(hook);
  if (!ref) throw new Error(`not a hook name: ${hook}`);
  const kind: LayerHookKind | GlobalHook = ref.kind;
  switch (kind) {
    case 'hook_resid_pre':
    case 'hook_resid_mid':
    case 'hook_resid_post':
    case 'ln_final.hook_normalized':
      return [1, T, c.dModel];
    case 'attn.hook_pattern':
      return [1, c.nHead, T, T];
    case 'attn.hook_v':
      return [1, T, c.nHead, c.dHead];
    case 'attn.hook_value_norm':
      return [1, c.nHead, T];
    case 'logits':
      return [1, T, c.vocabSize];
  }
}

export interface ActivationsEstimate {
  hooks: { name: string; shape: number[]; bytes: number }[];
  /** The whole file: header and data. */
  totalBytes: number;
  limitBytes: number;
}

/** The sequence the run's with-prompt forward saw: [BOS] + prompt + input at positions 0..T-1. */
export function runSequence(result: AnalysisResult): number[] {
  return [result.bos.id, ...result.prompt.tokens.map((t) => t.id), ...result.input.tokens.map((t) => t.id)];
}

export function shapeConfig(result: AnalysisResult, dHead?: number | null): ShapeConfig {
  return { nHead: result.model.nHead, dModel: result.model.dModel, dHead: dHead ?? result.model.dModel / result.model.nHead, vocabSize: result.model.vocabSize };
}

export function metadataFor(result: AnalysisResult, runId: string | null, hooks: string[]): Record<string, string> {
  const ids = runSequence(result);
  const own = require('../../package.json') as { version: string };
  return {
    format: ACTIVATIONS_FORMAT,
    run_id: runId ?? '',
    model_id: result.model.id,
    model_name: result.model.name,
    model_hash: result.model.hash,
    prompt: result.prompt.raw,
    prompt_text: result.prompt.text,
    input: result.input.text,
    token_ids: JSON.stringify(ids),
    token_texts: JSON.stringify([result.bos.text, ...result.prompt.tokens.map((t) => t.text), ...result.input.tokens.map((t) => t.text)]),
    positions: JSON.stringify(ids.map((_, i) => i)),
    bos: JSON.stringify(result.bos),
    prompt_tokens: String(result.p),
    input_tokens: String(result.n),
    hooks: JSON.stringify(hooks),
    layout: 'tensor name = hook name; batch dimension (1) kept; sequence = [bos] + prompt + input; prompt tokens at positions 1..p, input at p+1..p+n',
    precache_lens_version: own.version,
  };
}

/** Size of the file these hooks make, without running anything. */
export function estimateActivations(result: AnalysisResult, hooks: string[], c: ShapeConfig, runId: string | null, limitBytes = maxExportBytes()): ActivationsEstimate {
  const T = 1 + result.p + result.n;
  const list = hooks.map((name) => {
    const shape = hookShape(name, c, T);
    return { name, shape, bytes: 4 * shape.reduce((a, b) => a * b, 1) };
  });
  const { totalBytes } = safetensorsHeader(list.map((h) => ({ name: h.name, dims: h.shape })), metadataFor(result, runId, hooks));
  return { hooks: list, totalBytes, limitBytes };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export class ExportTooLargeError extends ReportInputError {
  constructor(readonly estimate: ActivationsEstimate) {
    const biggest = [...estimate.hooks].sort((a, b) => b.bytes - a.bytes).slice(0, 3).map((h) => `${h.name} ${mib(h.bytes)}`);
    super(
      `hooks: the file would be about ${mib(estimate.totalBytes)}, over the export limit of ${mib(estimate.limitBytes)} (PRECACHE_LENS_MAX_EXPORT_MB); pick a subset of hooks (fewer layers, or resid_* instead of patterns/logits). Largest: ${biggest.join(', ')}`,
      'hooks',
    );
    this.name = 'ExportTooLargeError';
  }
}

/**
 * Reruns the run's with-prompt forward on the engine with exactly `hooks` and returns the safetensors file as
 * chunks (so a big export is streamed, not copied). Throws ExportTooLargeError before running past the limit.
 */
export async function exportActivations(
  engine: EngineClient,
  modelDir: string,
  result: AnalysisResult,
  hooks: string[],
  opts: { runId: string | null; dHead?: number | null; limitBytes?: number },
): Promise<{ chunks: Buffer[]; totalBytes: number; estimate: ActivationsEstimate }> {
  const estimate = estimateActivations(result, hooks, shapeConfig(result, opts.dHead), opts.runId, opts.limitBytes ?? maxExportBytes());
  if (estimate.totalBytes > estimate.limitBytes) throw new ExportTooLargeError(estimate);
  const seq = runSequence(result);
  const out = await engine.run(modelDir, { tokens: [seq], positionIds: [seq.map((_, i) => i)], hooks, logits: hooks.includes('logits') });
  const tensors = hooks.map((name) => {
    const t = out.cache.get(name);
    if (!t) throw new Error(`the engine returned no tensor for hook ${name}`);
    return { name, dims: t.dims, data: t.data };
  });
  const { chunks, totalBytes } = safetensorsChunks(tensors, metadataFor(result, opts.runId, hooks));
  return { chunks, totalBytes, estimate };
}

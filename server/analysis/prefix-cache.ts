// Cache of prefix runs ([BOS] + P' alone) by model and prompt: the prompt's keys/values, the head sums of its
// attention rows and the logits of its last row (which predicts x_1). Causal attention makes them the same for every
// input text, so an experiment runs them once per prompt, and a fork that changes only the input reuses them.
import type { Tensor } from '../../shared/metrics/tensor.js';
import { SizedLru } from './sized-lru.js';

export interface PrefixRun {
  /** The graph's present.* outputs over [BOS] + P' ([1, heads, p+1, dh]), by present name. */
  presents: Map<string, Tensor>;
  /** Per layer, the attention pattern's rows 0..p summed over heads, [(p+1)*(p+1)] (see attentionRollout). */
  promptRows: Float64Array[];
  /** Logits of the last row (position p) [V], and their log-sum-exp. */
  lastLogits: Float32Array;
  lastLogSumExp: number;
}

export interface PrefixKey {
  /** sha256 of the graph file: the exact weights. */
  model: string;
  bos: number;
  promptIds: readonly number[];
}

function bytesOf(r: PrefixRun): number {
  let b = r.lastLogits.byteLength;
  for (const t of r.presents.values()) b += t.data.byteLength;
  for (const a of r.promptRows) b += a.byteLength;
  return b;
}

/** Least recently used, bounded by bytes held (256 MiB by default); an entry larger than the bound is not kept. */
export class PrefixCache {
  private readonly lru: SizedLru<PrefixRun>;

  constructor(maxBytes = 256 * 2 ** 20) {
    this.lru = new SizedLru(maxBytes);
  }

  private static key(k: PrefixKey): string {
    return `${k.model}|${k.bos}|${k.promptIds.join(',')}`;
  }

  get(k: PrefixKey): PrefixRun | undefined {
    return this.lru.get(PrefixCache.key(k));
  }

  set(k: PrefixKey, run: PrefixRun): void {
    this.lru.set(PrefixCache.key(k), run, bytesOf(run));
  }

  clear(): void {
    this.lru.clear();
  }
}

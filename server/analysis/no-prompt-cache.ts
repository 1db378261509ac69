// Cache of the no-prompt runs ([BOS] + X) by model, input and positions: forks, comparisons and experiments that
// analyse one input under many prompts run them once.
import type { Prediction } from '../../shared/metrics/loss.js';

export interface NoPromptRuns {
  /** Loss of each input token, [BOS] + X at positions 0, p+1..p+n (the knockout identity's reference). */
  lossNo: number[];
  /** The same at the natural positions 0..n. */
  lossNoNatural: number[];
  /** Top predictions without the prompt (same positions), per input token. */
  topNo: Prediction[][];
}

export interface NoPromptKey {
  /** sha256 of the graph file: the exact weights. */
  model: string;
  bos: number;
  inputIds: readonly number[];
  /** The prompt length: it sets the absolute positions of X. */
  p: number;
  topK: number;
}

/** Least recently used, bounded by the number of input tokens held (each entry is small: n losses and top-k lists). */
export class NoPromptCache {
  private readonly entries = new Map<string, { runs: NoPromptRuns; tokens: number }>();
  private tokens = 0;

  constructor(private readonly maxTokens = 1_000_000) {}

  private static keyOf(k: NoPromptKey): string {
    return `${k.model}|${k.bos}|${k.p}|${k.topK}|${k.inputIds.join(',')}`;
  }

  get(k: NoPromptKey): NoPromptRuns | undefined {
    const key = NoPromptCache.keyOf(k);
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.runs;
  }

  set(k: NoPromptKey, runs: NoPromptRuns): void {
    const key = NoPromptCache.keyOf(k);
    const old = this.entries.get(key);
    if (old) {
      this.tokens -= old.tokens;
      this.entries.delete(key);
    }
    const tokens = k.inputIds.length * (1 + k.topK);
    this.entries.set(key, { runs, tokens });
    this.tokens += tokens;
    for (const [oldest, e] of this.entries) {
      if (this.tokens <= this.maxTokens || this.entries.size <= 1) break;
      this.entries.delete(oldest);
      this.tokens -= e.tokens;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.tokens = 0;
  }
}

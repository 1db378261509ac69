// Cache of the no-prompt runs ([BOS] + X) by model and input: forks, comparisons and experiments that analyse one
// input under many prompts run them once. The natural-position run depends on the input alone; the run at the
// prompt's positions (0, p+1..p+n) also on the prompt's length p.
import type { Prediction } from '../../shared/metrics/loss.js';

export interface NoPromptRuns {
  /** Loss of each input token, [BOS] + X at positions 0, p+1..p+n (the knockout identity's reference). */
  lossNo: number[];
  /** The same at the natural positions 0..n. */
  lossNoNatural: number[];
  /** Top predictions without the prompt (same positions), per input token. */
  topNo: Prediction[][];
}

/** The run at the prompt's positions. */
export type ShiftedRun = Pick<NoPromptRuns, 'lossNo' | 'topNo'>;

export interface NoPromptKey {
  /** sha256 of the graph file: the exact weights. */
  model: string;
  bos: number;
  inputIds: readonly number[];
  /** The prompt length: it sets the absolute positions of X. */
  p: number;
  topK: number;
}

/** Least recently used, bounded by the number of values held (each entry is small: n losses and top-k lists). */
export class NoPromptCache {
  private readonly entries = new Map<string, { value: ShiftedRun | number[]; size: number }>();
  private held = 0;

  constructor(private readonly maxValues = 1_000_000) {}

  private static input(k: NoPromptKey): string {
    return `${k.model}|${k.bos}|${k.inputIds.join(',')}`;
  }

  private static shiftedKey(k: NoPromptKey): string {
    return `shifted|${k.p}|${k.topK}|${NoPromptCache.input(k)}`;
  }

  private static naturalKey(k: NoPromptKey): string {
    return `natural|${NoPromptCache.input(k)}`;
  }

  private take<V>(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value as V;
  }

  private put(key: string, value: ShiftedRun | number[], size: number): void {
    const old = this.entries.get(key);
    if (old) {
      this.held -= old.size;
      this.entries.delete(key);
    }
    this.entries.set(key, { value, size });
    this.held += size;
    for (const [oldest, e] of this.entries) {
      if (this.held <= this.maxValues || this.entries.size <= 1) break;
      this.entries.delete(oldest);
      this.held -= e.size;
    }
  }

  shifted(k: NoPromptKey): ShiftedRun | undefined {
    return this.take<ShiftedRun>(NoPromptCache.shiftedKey(k));
  }

  natural(k: NoPromptKey): number[] | undefined {
    return this.take<number[]>(NoPromptCache.naturalKey(k));
  }

  setShifted(k: NoPromptKey, run: ShiftedRun): void {
    this.put(NoPromptCache.shiftedKey(k), run, k.inputIds.length * (1 + k.topK));
  }

  setNatural(k: NoPromptKey, losses: number[]): void {
    this.put(NoPromptCache.naturalKey(k), losses, k.inputIds.length);
  }

  /** Entries held (each run kind counts once). */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }
}

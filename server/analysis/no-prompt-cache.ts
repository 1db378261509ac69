// Cache of the no-prompt runs ([BOS] + X) by model and input: forks, comparisons and experiments that analyse one
// input under many prompts run them once. The natural-position run depends on the input alone; the run at the
// prompt's positions (0, p+1..p+n) also on the prompt's length p.
import type { Prediction } from '../../shared/metrics/loss.js';
import { SizedLru } from './sized-lru.js';

/** The no-prompt run at the prompt's positions: [BOS] + X at 0, p+1..p+n (the knockout identity's reference). */
export interface ShiftedRun {
  /** Loss of each input token. */
  lossNo: number[];
  /** Top predictions without the prompt, per input token. */
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

/** Least recently used, bounded by the number of values held (each entry is small: n losses and top-k lists). */
export class NoPromptCache {
  private readonly lru: SizedLru<ShiftedRun | number[]>;

  constructor(maxValues = 1_000_000) {
    this.lru = new SizedLru(maxValues);
  }

  private static input(k: NoPromptKey): string {
    return `${k.model}|${k.bos}|${k.inputIds.join(',')}`;
  }

  private static shiftedKey(k: NoPromptKey): string {
    return `shifted|${k.p}|${k.topK}|${NoPromptCache.input(k)}`;
  }

  private static naturalKey(k: NoPromptKey): string {
    return `natural|${NoPromptCache.input(k)}`;
  }

  shifted(k: NoPromptKey): ShiftedRun | undefined {
    return this.lru.get(NoPromptCache.shiftedKey(k)) as ShiftedRun | undefined;
  }

  natural(k: NoPromptKey): number[] | undefined {
    return this.lru.get(NoPromptCache.naturalKey(k)) as number[] | undefined;
  }

  setShifted(k: NoPromptKey, run: ShiftedRun): void {
    this.lru.set(NoPromptCache.shiftedKey(k), run, k.inputIds.length * (1 + k.topK));
  }

  setNatural(k: NoPromptKey, losses: number[]): void {
    this.lru.set(NoPromptCache.naturalKey(k), losses, k.inputIds.length);
  }

  /** Entries held (each run kind counts once). */
  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}

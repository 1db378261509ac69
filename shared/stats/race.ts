// The racing rule of prompt search (docs/search.md): paired t intervals against the leader, Bonferroni over a round's
// comparisons, batches of inputs doubling each round; then held-out figures for the finalists (no winner's curse).
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import type { Interval } from './bootstrap.js';

/** mean +- t_{(1+level)/2, n-1} * sd / sqrt(n); null for fewer than two values. */
export function tInterval(xs: ArrayLike<number>, level: number): Interval | null {
  const n = xs.length;
  if (n < 2) return null;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += xs[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - mean) ** 2;
  const half = tQuantile((1 + level) / 2, n - 1) * Math.sqrt(ss / (n - 1) / n);
  return { mean, lo: mean - half, hi: mean + half };
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Race inputs seen by the end of each round: firstBatch, then doubling, the last round taking what is left. */
export function raceSchedule(nRace: number, firstBatch: number): number[] {
  const out: number[] = [];
  let s = Math.min(firstBatch, nRace);
  while (s > 0) {
    out.push(s);
    if (s >= nRace) break;
    s = Math.min(2 * s, nRace);
  }
  return out;
}

export interface RaceSettings {
  nVariants: number;
  /** Inputs the race may use (indices 0..nRace-1 of the race order). */
  nRace: number;
  firstBatch: number;
  level: number;
  /** Racing cells the whole search may compute, the held-out reserve included. */
  budgetCells?: number;
  /** Cells kept back for the finalists' held-out round. */
  reserveCells: number;
  /** A race stopped from outside (seconds budget, cancel) after this many complete rounds. */
  frozen?: { rounds: number; reason: 'budget-seconds' | 'cancelled' };
  /** Also successive halving: after the interval drops, keep at most the better half (by mean) of each round. */
  halving?: boolean;
}

export type StopReason = 'one-left' | 'inputs' | 'budget-cells' | 'budget-seconds' | 'cancelled';

export interface RoundResult {
  inputs: number;
  live: number[];
  leader: number;
  dropped: number[];
  /** Per live variant: its objective over the round's inputs, and (not for the leader) paired against the leader. */
  estimates: Map<number, Interval | null>;
  vsLeader: Map<number, Interval | null>;
}

export interface RaceState {
  rounds: RoundResult[];
  live: number[];
  /** Set once the race is over. */
  stop: StopReason | null;
  /** The cells the next round needs (variant x race input index), when the race goes on. */
  need: { variants: number[]; from: number; to: number } | null;
  /** Racing cells the rounds so far used. */
  cellsUsed: number;
}

/**
 * Replays the race from the values known so far (`value(v, i)`: variant v's objective on race input i, or
 * undefined when not computed): a pure function of the stored cells, so a search resumes where it stopped. Each
 * round: every live variant on the first `inputs` race inputs; the leader is the highest mean; a variant is dropped
 * when the one-sided upper bound of its paired difference to the leader, at level 1 - (1 - level) / (m x rounds)
 * with m the other live variants, lies below 0 (see decideRound).
 */
export function replayRace(s: RaceSettings, value: (v: number, i: number) => number | undefined): RaceState {
  const schedule = raceSchedule(s.nRace, s.firstBatch);
  let live = Array.from({ length: s.nVariants }, (_, v) => v);
  const rounds: RoundResult[] = [];
  let cellsUsed = 0;
  let seen = 0;
  for (const upto of schedule) {
    if (live.length <= 1) return { rounds, live, stop: 'one-left', need: null, cellsUsed };
    if (s.frozen && rounds.length >= s.frozen.rounds) return { rounds, live, stop: s.frozen.reason, need: null, cellsUsed };
    const cost = live.length * (upto - seen);
    if (s.budgetCells !== undefined && cellsUsed + cost + s.reserveCells > s.budgetCells) return { rounds, live, stop: 'budget-cells', need: null, cellsUsed };
    const values = new Map<number, number[]>();
    for (const v of live) {
      const xs: number[] = [];
      for (let i = 0; i < upto; i++) {
        const x = value(v, i);
        if (x === undefined) return { rounds, live, stop: null, need: { variants: live, from: seen, to: upto }, cellsUsed };
        xs.push(x);
      }
      values.set(v, xs);
    }
    cellsUsed += cost;
    seen = upto;
    const round = decideRound(live, values, s.level, schedule.length, s.halving ?? false);
    rounds.push(round);
    live = live.filter((v) => !round.dropped.includes(v));
  }
  return { rounds, live, stop: live.length <= 1 ? 'one-left' : 'inputs', need: null, cellsUsed };
}

/**
 * One round's decision over the live variants' values on the same inputs. The rule protects the truly best variant
 * (and any variant tied with it): it is dropped only if, in some round, the one-sided upper bound of its mean
 * difference to the leader falls below 0. The leader is one of the m other live variants and the race looks again
 * each round, so the error 1 - level is split over m comparisons and over the race's rounds (union bound): the best
 * variant is dropped in at most 1 - level of races, whichever variant leads.
 */
export function decideRound(live: number[], values: Map<number, number[]>, level: number, roundsInRace = 1, halving = false): RoundResult {
  let leader = live[0];
  const means = new Map(live.map((v) => [v, mean(values.get(v)!)]));
  for (const v of live) if (means.get(v)! > means.get(leader)!) leader = v;
  const m = live.length - 1;
  // A two-sided interval at 1 - 2a has the one-sided upper bound at 1 - a.
  const pairLevel = m > 0 ? 1 - (2 * (1 - level)) / (m * roundsInRace) : level;
  const lead = values.get(leader)!;
  const estimates = new Map<number, Interval | null>();
  const vsLeader = new Map<number, Interval | null>();
  const dropped: number[] = [];
  for (const v of live) {
    const xs = values.get(v)!;
    estimates.set(v, tInterval(xs, level));
    if (v === leader) {
      vsLeader.set(v, null);
      continue;
    }
    const ci = tInterval(
      xs.map((x, i) => x - lead[i]),
      pairLevel,
    );
    vsLeader.set(v, ci);
    if (ci && ci.hi < 0) dropped.push(v);
  }
  if (halving) {
    // Successive halving on top: the better half by mean goes on (the leader always does), the rest is dropped.
    const keep = Math.ceil(live.length / 2);
    const rest = live.filter((v) => !dropped.includes(v)).sort((a, b) => (a === leader ? -1 : b === leader ? 1 : means.get(b)! - means.get(a)! || a - b));
    dropped.push(...rest.slice(keep));
  }
  return { inputs: lead.length, live: [...live], leader, dropped, estimates, vsLeader };
}

/** The finalists: live variants by their last round's mean (leader first), then dropped ones, latest dropped first. */
export function pickFinalists(state: RaceState, count: number): number[] {
  const last = new Map<number, { round: number; mean: number }>();
  state.rounds.forEach((r, k) => {
    for (const v of r.live) last.set(v, { round: k, mean: r.estimates.get(v)?.mean ?? -Infinity });
  });
  const rank = (v: number) => last.get(v) ?? { round: -1, mean: -Infinity };
  const liveSorted = [...state.live].sort((a, b) => {
    if (state.rounds.length && a === state.rounds[state.rounds.length - 1].leader) return -1;
    if (state.rounds.length && b === state.rounds[state.rounds.length - 1].leader) return 1;
    return rank(b).mean - rank(a).mean || a - b;
  });
  const dropped = [...last.keys()].filter((v) => !state.live.includes(v)).sort((a, b) => rank(b).round - rank(a).round || rank(b).mean - rank(a).mean || a - b);
  return [...liveSorted, ...dropped].slice(0, count);
}

export interface HeldOutFigures {
  /** Per finalist: the objective's interval on the held-out inputs, and paired against the winner (finalist 0). */
  finalists: { variant: number; mean: Interval | null; n: number; vsWinner: Interval | null }[];
  /** Winner minus runner-up on the held-out inputs. */
  lead: Interval | null;
}

/** Held-out figures of the finalists, from inputs the race never saw (so the winner's lead is not inflated by selection). */
export function heldOutFigures(finalists: number[], values: Map<number, number[]>, level: number): HeldOutFigures {
  const win = values.get(finalists[0]) ?? [];
  const out = finalists.map((v, k) => {
    const xs = values.get(v) ?? [];
    const n = Math.min(xs.length, win.length);
    return {
      variant: v,
      mean: tInterval(xs, level),
      n: xs.length,
      vsWinner: k === 0 ? null : tInterval(xs.slice(0, n).map((x, i) => x - win[i]), level),
    };
  });
  const lead = out.length > 1 && out[1].vsWinner ? { mean: -out[1].vsWinner.mean, lo: -out[1].vsWinner.hi, hi: -out[1].vsWinner.lo } : null;
  return { finalists: out, lead };
}

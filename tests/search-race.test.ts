// The racing rule and the held-out figures, checked by simulation against known true means (docs/search.md).
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../shared/random.js';
import { heldOutFigures, pickFinalists, raceSchedule, replayRace, tInterval } from '../shared/stats/race.js';

/** Standard normal draws from a seeded PRNG (Box-Muller). */
function normals(seed: number) {
  const r = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/**
 * One synthetic search: value(v, i) = mu[v] + u_i + e_{v,i} (u: the input's difficulty, shared by all variants; e:
 * noise with sd `sigma`), so the paired differences between two variants have sd sigma * sqrt(2). Races on the first
 * nRace inputs, then measures the finalists on the held-out rest.
 */
function simulate(mu: number[], nInputs: number, seed: number, o: { sigma?: number; heldOut?: number; firstBatch?: number; level?: number; finalists?: number; halving?: boolean } = {}) {
  const z = normals(seed);
  const sigma = o.sigma ?? 1;
  const level = o.level ?? 0.95;
  const u = Array.from({ length: nInputs }, () => 2 * z());
  const vals = mu.map((m) => u.map((ui) => m + ui + sigma * z()));
  const nHeld = Math.round(nInputs * (o.heldOut ?? 0.25));
  const nRace = nInputs - nHeld;
  const F = o.finalists ?? 3;
  const state = replayRace({ nVariants: mu.length, nRace, firstBatch: o.firstBatch ?? 8, level, reserveCells: F * nHeld, halving: o.halving ?? true }, (v, i) => vals[v][i]);
  const finalists = pickFinalists(state, F);
  const held = heldOutFigures(finalists, new Map(finalists.map((v) => [v, vals[v].slice(nRace)])), level);
  const cells = state.cellsUsed;
  return { state, finalists, held, cells };
}

describe('race schedule', () => {
  it('doubles the inputs each round and ends on every race input', () => {
    expect(raceSchedule(48, 8)).toEqual([8, 16, 32, 48]);
    expect(raceSchedule(5, 8)).toEqual([5]);
    expect(raceSchedule(64, 8)).toEqual([8, 16, 32, 64]);
  });
});

describe('racing by simulation (500+ races each)', () => {
  const R = 600;
  const sdPaired = Math.SQRT2; // sigma = 1

  it.each([
    ['successive halving with interval drops (the default)', true],
    ['interval drops only', false],
  ])('%s picks the truly best variant (ahead by 0.5 sd of the paired differences) in at least 90 per cent of races', (_name, halving) => {
    let wins = 0;
    let cells = 0;
    for (let r = 0; r < R; r++) {
      const mu = Array.from({ length: 16 }, (_, v) => (v === 5 ? 0.5 * sdPaired : 0));
      const s = simulate(mu, 64, 1000 + r, { halving });
      if (s.finalists[0] === 5) wins++;
      cells += s.cells;
    }
    expect(wins / R).toBeGreaterThanOrEqual(0.9);
    // Halving stops early: well under half of the 16 x 48 race grid.
    if (halving) expect(cells / R).toBeLessThan(0.5 * 16 * 48);
    else expect(cells / R).toBeLessThan(16 * 48);
  });

  it('interval drops only: a variant equal to the best is dropped at most at the 5 % the level allows (each of 8 identical variants)', () => {
    let drops = 0;
    let variants = 0;
    for (let r = 0; r < R; r++) {
      const s = simulate(Array(8).fill(0), 64, 5000 + r, { halving: false });
      const dropped = new Set(s.state.rounds.flatMap((x) => x.dropped));
      drops += dropped.size;
      variants += 8;
    }
    expect(drops / variants).toBeLessThanOrEqual(0.05);
  });

  it('interval drops only: the truly best variant is dropped in at most 5 % of races, whichever variant leads', () => {
    let bestDropped = 0;
    for (let r = 0; r < R; r++) {
      const mu = Array.from({ length: 16 }, (_, v) => (v === 5 ? 0.5 * sdPaired : 0));
      const s = simulate(mu, 64, 7000 + r, { halving: false });
      if (s.state.rounds.some((x) => x.dropped.includes(5))) bestDropped++;
    }
    expect(bestDropped / R).toBeLessThanOrEqual(0.05);
  });

  it('interval drops only stop early when variants differ: fewer than half the race grid\'s cells with means spread 0.25 sd apart', () => {
    let cells = 0;
    for (let r = 0; r < R; r++) cells += simulate(Array.from({ length: 16 }, (_, v) => 0.25 * sdPaired * v), 64, 11000 + r, { halving: false }).cells;
    expect(cells / R).toBeLessThan(0.5 * 16 * 48);
  });

  it("the finalists' held-out intervals cover their true means at about the nominal 95 %", () => {
    let covered = 0;
    let total = 0;
    for (let r = 0; r < R; r++) {
      // Spread true means, so the finalists are selected, and selection would bias figures from the race inputs.
      const mu = Array.from({ length: 12 }, (_, v) => 0.1 * v);
      const s = simulate(mu, 64, 9000 + r);
      // The figures include each input's difficulty u_i; the true mean over inputs is mu[v] (u has mean 0), so
      // compare the paired form, which removes u: the interval of (v - winner) must cover mu[v] - mu[winner].
      for (const f of s.held.finalists) {
        if (!f.vsWinner) continue;
        total++;
        const truth = mu[f.variant] - mu[s.finalists[0]];
        if (f.vsWinner.lo <= truth && truth <= f.vsWinner.hi) covered++;
      }
    }
    expect(total).toBeGreaterThan(500);
    expect(covered / total).toBeGreaterThan(0.93);
    expect(covered / total).toBeLessThan(0.97);
  });

  it("held-out intervals of a finalist's own mean cover it at about 95 % (inputs drawn around a known mean)", () => {
    let covered = 0;
    let total = 0;
    for (let r = 0; r < R; r++) {
      const mu = Array.from({ length: 8 }, (_, v) => 0.2 * v);
      const s = simulate(mu, 64, 13000 + r);
      for (const f of s.held.finalists) {
        total++;
        if (f.mean && f.mean.lo <= mu[f.variant] && mu[f.variant] <= f.mean.hi) covered++;
      }
    }
    expect(covered / total).toBeGreaterThan(0.93);
    expect(covered / total).toBeLessThan(0.97);
  });

  it("a race among identical variants reports no difference: the winner's held-out lead covers 0 at about 95 %", () => {
    let covers = 0;
    let raceLeadAbove0 = 0;
    for (let r = 0; r < R; r++) {
      const s = simulate(Array(16).fill(0), 64, 17000 + r);
      if (s.held.lead && s.held.lead.lo <= 0 && 0 <= s.held.lead.hi) covers++;
      const last = s.state.rounds[s.state.rounds.length - 1];
      // On the race's own inputs the leader is ahead of every other variant by construction (the winner's curse).
      const others = [...last.vsLeader.values()].filter((x) => x !== null);
      if (others.every((x) => x!.mean <= 0)) raceLeadAbove0++;
    }
    expect(covers / R).toBeGreaterThan(0.93);
    expect(covers / R).toBeLessThan(0.975);
    expect(raceLeadAbove0).toBe(R);
  });
});

describe('race bookkeeping', () => {
  it('asks for the next round\'s cells and resumes from stored values without recomputing', () => {
    const known = new Map<string, number>();
    const settings = { nVariants: 3, nRace: 16, firstBatch: 4, level: 0.95, reserveCells: 0 };
    const s0 = replayRace(settings, (v, i) => known.get(`${v}:${i}`));
    expect(s0.need).toEqual({ variants: [0, 1, 2], from: 0, to: 4 });
    for (let v = 0; v < 3; v++) for (let i = 0; i < 4; i++) known.set(`${v}:${i}`, v === 2 ? 10 + i : i % 2);
    const s1 = replayRace(settings, (v, i) => known.get(`${v}:${i}`));
    expect(s1.rounds).toHaveLength(1);
    expect(s1.rounds[0].leader).toBe(2);
    expect(s1.rounds[0].dropped).toEqual([0, 1]);
    expect(s1.stop).toBe('one-left');
  });

  it('stops at the cell budget, keeping back the held-out reserve', () => {
    const s = replayRace({ nVariants: 4, nRace: 32, firstBatch: 4, level: 0.95, budgetCells: 40, reserveCells: 20 }, () => 0);
    // round 1 costs 16 cells; round 2 another 16 would pass 40 - 20.
    expect(s.rounds).toHaveLength(1);
    expect(s.stop).toBe('budget-cells');
    expect(s.cellsUsed).toBe(16);
  });

  it('t interval: hand-computed case', () => {
    const ci = tInterval([1, 2, 3], 0.95)!;
    // mean 2, sd 1, t(0.975, 2) = 4.302653
    expect(ci.mean).toBe(2);
    expect(ci.hi - 2).toBeCloseTo(4.302653 / Math.sqrt(3), 5);
  });
});

// Prints the racing rule's selection rates on synthetic races with known true means (the same model as
// tests/search-race.test.ts): how often the truly best variant wins, how often a variant equal to the leader is
// dropped, how many cells a race uses, and how often the held-out intervals cover. `npx tsx scripts/search-simulation.ts`
import { mulberry32 } from '../shared/random.js';
import { heldOutFigures, pickFinalists, replayRace } from '../shared/stats/race.js';

function normals(seed: number) {
  const r = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** value(v, i) = mu[v] + u_i + e_{v,i}: u_i the input's difficulty (sd 2), e noise (sd 1): paired differences have sd sqrt(2). */
function simulate(mu: number[], nInputs: number, seed: number, halving: boolean, heldOut = 0.25, firstBatch = 8) {
  const z = normals(seed);
  const u = Array.from({ length: nInputs }, () => 2 * z());
  const vals = mu.map((m) => u.map((ui) => m + ui + z()));
  const nHeld = Math.round(nInputs * heldOut);
  const nRace = nInputs - nHeld;
  const state = replayRace({ nVariants: mu.length, nRace, firstBatch, level: 0.95, reserveCells: 3 * nHeld, halving }, (v, i) => vals[v][i]);
  const finalists = pickFinalists(state, 3);
  const held = heldOutFigures(finalists, new Map(finalists.map((v) => [v, vals[v].slice(nRace)])), 0.95);
  return { state, finalists, held, nRace };
}

const R = 1000;
const sd = Math.SQRT2;
const cases: { name: string; mu: number[]; best: number | null }[] = [
  { name: '16 variants, best ahead by 0.5 sd, others equal', mu: Array.from({ length: 16 }, (_, v) => (v === 5 ? 0.5 * sd : 0)), best: 5 },
  { name: '16 variants, best ahead by 1 sd, others equal', mu: Array.from({ length: 16 }, (_, v) => (v === 5 ? sd : 0)), best: 5 },
  { name: '16 variants spread 0.25 sd apart (best by 0.25 sd)', mu: Array.from({ length: 16 }, (_, v) => 0.25 * sd * v), best: 15 },
  { name: '8 identical variants', mu: Array(8).fill(0), best: null },
];
for (const halving of [true, false]) {
  console.log(halving ? 'successive halving with interval drops (the default):' : 'interval drops only (options.halving false):');
for (const c of cases) {
  let wins = 0;
  let cells = 0;
  let racesWithFalseDrop = 0;
  let equalDropped = 0;
  let equalCount = 0;
  let covered = 0;
  let intervals = 0;
  for (let r = 0; r < R; r++) {
    const s = simulate(c.mu, 64, 100_000 + r, halving);
    cells += s.state.cellsUsed;
    if (c.best !== null && s.finalists[0] === c.best) wins++;
    const dropped = new Set(s.state.rounds.flatMap((x) => x.dropped));
    const top = Math.max(...c.mu);
    let falseDrop = false;
    c.mu.forEach((m, v) => {
      if (m === top && (c.best === null || v !== c.best)) {
        equalCount++;
        if (dropped.has(v)) equalDropped++;
      }
      if (m === top && dropped.has(v)) falseDrop = true;
    });
    if (falseDrop) racesWithFalseDrop++;
    for (const f of s.held.finalists) {
      if (!f.vsWinner) continue;
      intervals++;
      const truth = c.mu[f.variant] - c.mu[s.finalists[0]];
      if (f.vsWinner.lo <= truth && truth <= f.vsWinner.hi) covered++;
    }
  }
  const grid = c.mu.length * 48;
  console.log(
    `  ${c.name}: ${c.best !== null ? `best wins ${((100 * wins) / R).toFixed(1)}%, ` : ''}races dropping a variant equal to the best ${((100 * racesWithFalseDrop) / R).toFixed(1)}%` +
      `${equalCount ? ` (per such variant ${((100 * equalDropped) / equalCount).toFixed(1)}%)` : ''}, race cells ${(cells / R).toFixed(0)} of ${grid} (${((100 * cells) / R / grid).toFixed(0)}%), held-out vs-winner intervals cover ${((100 * covered) / Math.max(1, intervals)).toFixed(1)}%`,
  );
}
}

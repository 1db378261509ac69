// Search reports: JSON (precache-lens.search/1, with its zod schema -> schemas/search.v1.schema.json), CSV tables
// (variants, rounds, cells) and self-contained HTML.
import { createRequire } from 'node:module';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { Interval } from '../../shared/stats/bootstrap.js';
import type { SearchDetail } from '../../shared/search.js';
import { esc } from '../report/html.js';
import type { RaceCellRow } from './search-store.js';

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

export const SEARCH_SCHEMA_ID = 'precache-lens.search/1';
export const SEARCH_CSV_TABLES = ['variants', 'rounds', 'cells'] as const;
export type SearchCsvTable = (typeof SEARCH_CSV_TABLES)[number];

const IntervalSchema = z.object({ mean: z.number(), lo: z.number(), hi: z.number() }).describe('estimate and its confidence interval (t interval over inputs)');
const MaybeInterval = IntervalSchema.nullable();

export const SearchReportSchema = z
  .object({
    schema: z.literal(SEARCH_SCHEMA_ID),
    generatedAt: z.string(),
    software: z.object({ name: z.literal('precache-lens'), version: z.string() }),
    search: z.object({
      id: z.string(),
      label: z.string().nullable(),
      status: z.enum(['running', 'done', 'failed', 'cancelled']),
      phase: z.enum(['race', 'held-out', 'explain', 'done']),
      error: z.string().nullable(),
      createdAt: z.string(),
      finishedAt: z.string().nullable(),
      model: z.string(),
      objective: z.enum(['benefit', 'benefitAtPromptPositions']),
      budget: z.object({ cells: z.number().int().optional(), seconds: z.number().optional() }),
      options: z.record(z.string(), z.unknown()),
      stopReason: z.enum(['one-left', 'inputs', 'budget-cells', 'budget-seconds', 'cancelled']).nullable(),
      cells: z.number().int().describe('racing cells computed (race and held-out)'),
      gridCells: z.number().int().describe('variants x inputs'),
      baselines: z.number().int().describe('no-prompt baselines run, once per input'),
      experimentId: z.string().nullable().describe("the experiment of the finalists' full analyses"),
    }),
    inputs: z.array(z.object({ text: z.string(), source: z.object({ set: z.string(), doc: z.string(), offset: z.number().int() }).optional() })),
    raceInputs: z.array(z.number().int()).describe('indices of the inputs the race may use, in the order it uses them'),
    heldOutInputs: z.array(z.number().int()).describe('indices of the inputs held out of the race: the finalists are measured on these'),
    rounds: z.array(z.object({ inputs: z.number().int(), live: z.array(z.number().int()), leader: z.number().int(), dropped: z.array(z.number().int()) })),
    variants: z.array(
      z.object({
        text: z.string(),
        label: z.string(),
        status: z.enum(['live', 'dropped', 'finalist']),
        roundDropped: z.number().int().nullable(),
        estimate: MaybeInterval.describe('objective over the race inputs it ran on (selection figure)'),
        n: z.number().int(),
        vsLeader: MaybeInterval,
      }),
    ),
    finalists: z.array(
      z.object({
        variant: z.number().int(),
        heldOut: z.object({ meanBenefit: MaybeInterval, n: z.number().int(), vsWinner: MaybeInterval }).describe('from inputs the race never used'),
        precomputationShare: MaybeInterval.describe('sum D(1) / sum D(0) over the explained held-out inputs'),
        leadPrecomputationShare: MaybeInterval.describe("of the winner's lead over this finalist: sum of D(1) differences / sum of D(0) differences"),
        depthCurve: z.array(IntervalSchema).nullable(),
        runIds: z.array(z.string()),
        continuations: z.array(z.string()),
        nextTokens: z.array(z.object({ token: z.string(), prob: z.number() })),
      }),
    ),
    lead: MaybeInterval.describe('held-out: winner minus runner-up'),
  })
  .strict();

export type SearchReport = z.infer<typeof SearchReportSchema>;

export function searchJsonSchemas(): Record<string, unknown> {
  return { 'search.v1.schema.json': z.toJSONSchema(SearchReportSchema, { target: 'draft-2020-12' }) };
}

export function searchReport(d: SearchDetail): SearchReport {
  return {
    schema: SEARCH_SCHEMA_ID,
    generatedAt: new Date().toISOString(),
    software: { name: 'precache-lens', version: VERSION },
    search: {
      id: d.id,
      label: d.label,
      status: d.status,
      phase: d.phase,
      error: d.error,
      createdAt: d.createdAt,
      finishedAt: d.finishedAt,
      model: d.model,
      objective: d.objective,
      budget: d.budget,
      options: d.options,
      stopReason: d.stopReason,
      cells: d.cells,
      gridCells: d.gridCells,
      baselines: d.baselines,
      experimentId: d.experimentId,
    },
    inputs: d.inputs,
    raceInputs: d.raceInputs,
    heldOutInputs: d.heldOutInputs,
    rounds: d.rounds,
    variants: d.variants,
    finalists: d.finalists,
    lead: d.lead,
  };
}

type Cell = string | number | null;
const iv = (x: Interval | null): Cell[] => (x ? [x.mean, x.lo, x.hi] : [null, null, null]);
const ivCols = (name: string) => [name, `${name}_lo`, `${name}_hi`];

// Text cells starting with = + - @ get a leading ' (csv-stringify's escape_formulas), as in the experiment CSVs.
function toCsv(columns: string[], rows: Cell[][]): string {
  return stringify([columns, ...rows], { cast: { number: (v) => String(v) }, escape_formulas: true, record_delimiter: '\n' });
}

export function searchCsv(d: SearchDetail, table: SearchCsvTable, cells: RaceCellRow[] = []): string {
  if (table === 'variants') {
    return toCsv(
      ['variant', 'label', 'text', 'status', 'round_dropped', 'n', ...ivCols('estimate'), ...ivCols('vs_leader'), 'finalist_rank', ...ivCols('held_out_mean_benefit'), 'held_out_n', ...ivCols('precomputation_share'), ...ivCols('lead_precomputation_share')],
      d.variants.map((v, k) => {
        const f = d.finalists.findIndex((x) => x.variant === k);
        const fin = f >= 0 ? d.finalists[f] : null;
        return [k, v.label, v.text, v.status, v.roundDropped, v.n, ...iv(v.estimate), ...iv(v.vsLeader), f >= 0 ? f + 1 : null, ...iv(fin?.heldOut.meanBenefit ?? null), fin?.heldOut.n ?? null, ...iv(fin?.precomputationShare ?? null), ...iv(fin?.leadPrecomputationShare ?? null)];
      }),
    );
  }
  if (table === 'rounds') {
    return toCsv(
      ['round', 'inputs', 'leader', 'live', 'dropped'],
      d.rounds.map((r, k) => [k, r.inputs, r.leader, r.live.join(' '), r.dropped.join(' ')]),
    );
  }
  const held = new Set(d.heldOutInputs);
  return toCsv(
    ['variant', 'input', 'held_out', 'mean_loss_with_prompt', 'mean_loss_no_prompt_at_prompt_positions'],
    [...cells].sort((a, b) => a.variant - b.variant || a.input - b.input).map((c) => [c.variant, c.input, held.has(c.input) ? 1 : 0, c.lossWith, c.lossShifted]),
  );
}

const fmt = (x: Interval | null, digits = 3) => (x ? `${x.mean.toFixed(digits)} [${x.lo.toFixed(digits)}, ${x.hi.toFixed(digits)}]` : 'n/a');

/** A self-contained page: the race as a table of rounds, the variants with their intervals, the finalists. */
export function renderSearchHtml(r: SearchReport): string {
  const s = r.search;
  const variantRows = r.variants
    .map(
      (v, k) =>
        `<tr class="${v.status}"><td>${k + 1}</td><td>${esc(v.label)}</td><td><code>${esc(v.text)}</code></td><td>${v.status}${v.roundDropped !== null ? ` (round ${v.roundDropped + 1})` : ''}</td><td>${v.n}</td><td>${fmt(v.estimate)}</td><td>${fmt(v.vsLeader)}</td></tr>`,
    )
    .join('');
  const finalistRows = r.finalists
    .map(
      (f, k) =>
        `<tr><td>${k + 1}</td><td>${esc(r.variants[f.variant].label)}</td><td>${fmt(f.heldOut.meanBenefit)} (n=${f.heldOut.n})</td><td>${fmt(f.heldOut.vsWinner)}</td><td>${fmt(f.precomputationShare)}</td><td>${fmt(f.leadPrecomputationShare)}</td><td>${f.nextTokens.map((t) => `${esc(JSON.stringify(t.token))} ${(100 * t.prob).toFixed(1)}%`).join(', ')}</td><td>${f.continuations.map((c) => `<div>${esc(c)}</div>`).join('')}</td></tr>`,
    )
    .join('');
  const roundRows = r.rounds.map((x, k) => `<tr><td>${k + 1}</td><td>${x.inputs}</td><td>${x.live.length}</td><td>${x.leader + 1}</td><td>${x.dropped.map((v) => v + 1).join(', ') || '—'}</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="generator" content="precache-lens ${esc(r.software.version)}">
<title>Prompt search ${esc(s.label ?? s.id.slice(0, 8))}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1f2937}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #d1d5db;padding:.25rem .5rem;text-align:left;vertical-align:top}tr.dropped{color:#6b7280}code{white-space:pre-wrap}</style></head><body>
<h1>Prompt search ${esc(s.label ?? s.id.slice(0, 8))}</h1>
<p>Model ${esc(s.model)}; objective ${esc(s.objective)}; ${r.variants.length} variants, ${r.inputs.length} inputs (${r.raceInputs.length} raced, ${r.heldOutInputs.length} held out); status ${esc(s.status)}${s.stopReason ? `, race stopped: ${esc(s.stopReason)}` : ''}. ${s.cells} racing cells of a ${s.gridCells}-cell grid.</p>
<p>The finalists' figures come from the held-out inputs, which the race never used to select them.</p>
<h2>Finalists</h2><table><thead><tr><th>#</th><th>variant</th><th>held-out mean benefit</th><th>vs winner</th><th>pi = D(1)/D(0)</th><th>share of the winner's lead over it read from precomputation</th><th>top next tokens</th><th>continuations</th></tr></thead><tbody>${finalistRows}</tbody></table>
<p>Held-out lead of the winner over the runner-up: ${fmt(r.lead)} nats/token.</p>
<h2>Rounds</h2><table><thead><tr><th>round</th><th>inputs</th><th>live</th><th>leader</th><th>dropped</th></tr></thead><tbody>${roundRows}</tbody></table>
<h2>Variants</h2><table><thead><tr><th>#</th><th>label</th><th>prompt</th><th>status</th><th>n</th><th>race estimate</th><th>vs leader</th></tr></thead><tbody>${variantRows}</tbody></table>
<footer>Generated ${esc(r.generatedAt)} by Precache Lens ${esc(r.software.version)}. The same data as JSON: schema <code>${SEARCH_SCHEMA_ID}</code>.</footer>
</body></html>`;
}

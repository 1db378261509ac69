// CSV tables of a report (tokens, layers, heads, spans) and of comparisons/batches; numbers keep full precision.
import { stringify } from 'csv-stringify/sync';
import type { AnalysisResult } from '../../shared/analysis.js';
import { runTitle } from './build.js';
import type { BatchReport, ComparisonReport, Report } from './schema.js';

export const RUN_TABLES = ['tokens', 'layers', 'heads', 'spans'] as const;
export type RunTable = (typeof RUN_TABLES)[number];
export const COMPARISON_TABLES = ['summary', ...RUN_TABLES] as const;
export type ComparisonTable = (typeof COMPARISON_TABLES)[number];

type Cell = string | number | null;
type Table = { columns: string[]; rows: Cell[][] };

// JS's number-to-string is the shortest text that parses back to the same double, so nothing is rounded.
// Text cells (prompts, labels, token strings) are user input: one starting with = + - @ tab or CR would run as a
// formula in a spreadsheet, so it gets a leading ' as OWASP recommends (csv-stringify's escape_formulas); numbers,
// negative ones included, stay numbers.
function toCsv(t: Table): string {
  return stringify([t.columns, ...t.rows], { cast: { number: (v) => String(v) }, escape_formulas: true, record_delimiter: '\n' });
}

function tokensTable(r: AnalysisResult): Table {
  return {
    columns: ['index', 'position', 'id', 'text', 'loss_with_prompt', 'loss_no_prompt', 'loss_no_prompt_natural', 'benefit', 'benefit_natural'],
    rows: r.input.tokens.map((t, k) => [k, t.position, t.id, t.text, t.lossWithPrompt, t.lossNoPrompt, t.lossNoPromptNatural, t.benefit, t.benefitNatural]),
  };
}

function layersTable(r: AnalysisResult): Table {
  return {
    // depth_k is D(k) = K(layers k..L-1) with k = this layer (D(L) = 0 is not a row); layer_profile_k is K of the window.
    columns: ['layer', 'pattern_hook', 'value_norm_hook', 'attention_share', 'norm_weighted_share', 'sink', 'depth_k', 'layer_profile_k', 'layer_profile_window'],
    rows: r.layers.map((l) => {
      const w = r.layerProfile[l.layer];
      return [l.layer, l.hooks.pattern, l.hooks.valueNorm, l.attention, l.normWeighted, l.sink, r.depthCurve[l.layer], w.k, `${w.layers[0]}..${w.layers[w.layers.length - 1]}`];
    }),
  };
}

function headsTable(r: AnalysisResult): Table {
  return {
    columns: ['layer', 'head', 'pattern_hook', 'attention_share', 'norm_weighted_share', 'sink'],
    rows: r.layers.flatMap((l) => l.attentionPerHead.map((a, h): Cell[] => [l.layer, h, l.hooks.pattern, a, l.normWeightedPerHead[h], l.sinkPerHead[h]])),
  };
}

function spansTable(r: AnalysisResult): Table {
  return {
    columns: ['label', 'token_start', 'token_end', 'char_start', 'char_end', 'text', 'k_all_layers', 'k_layers_from_1'],
    rows: r.spans.map((s) => [s.label, s.tokenStart, s.tokenEnd, s.charStart, s.charEnd, r.prompt.text.slice(s.charStart, s.charEnd), s.kAllLayers, s.kFromLayer1]),
  };
}

const RUN_TABLE_BUILDERS: Record<RunTable, (r: AnalysisResult) => Table> = { tokens: tokensTable, layers: layersTable, heads: headsTable, spans: spansTable };

export function reportCsv(report: Report, table: RunTable): string {
  return toCsv(RUN_TABLE_BUILDERS[table](report.metrics));
}

function comparisonTable(c: ComparisonReport, table: ComparisonTable): Table {
  if (table === 'summary') {
    return {
      columns: ['run', 'run_id', 'label', 'prompt', 'p', 'n', 'mean_loss_with_prompt', 'mean_loss_no_prompt', 'mean_loss_no_prompt_natural', 'mean_benefit', 'mean_benefit_natural', 'mean_benefit_read', 'precomputation_share', 'identity_residual', 'attention_rollout_share'],
      rows: c.runs.map((r, k) => {
        const s = r.metrics.summary;
        return [k + 1, r.run.id, runTitle(r.run), r.run.prompt, r.metrics.p, r.metrics.n, s.meanLossWithPrompt, s.meanLossNoPrompt, s.meanLossNoPromptNatural, s.meanBenefit, s.meanBenefitNatural, s.meanBenefitRead, s.precomputationShare, s.identityResidual, s.attentionRolloutShare];
      }),
    };
  }
  if (table === 'tokens') {
    // One column group per run (run1 = runs[0], ...); the natural no-prompt loss does not depend on the prompt.
    const groups = c.runs.map((_, k) => [`run${k + 1}.position`, `run${k + 1}.loss_with_prompt`, `run${k + 1}.loss_no_prompt`, `run${k + 1}.benefit`, `run${k + 1}.benefit_vs_run1`]);
    return {
      columns: ['index', 'id', 'text', 'loss_no_prompt_natural', ...groups.flat()],
      rows: c.tokens.map((t) => [t.index, t.id, t.text, t.lossNoPromptNatural, ...c.runs.flatMap((_, k) => [t.position[k], t.lossWithPrompt[k], t.lossNoPrompt[k], t.benefit[k], t.benefitVsFirst[k]])]),
    };
  }
  // Layers, heads and spans differ in length per run (spans), so they are long tables with the run in front.
  const parts = c.runs.map((r, k) => ({ k, r, t: RUN_TABLE_BUILDERS[table](r.metrics) }));
  return {
    columns: ['run', 'run_id', 'run_label', ...parts[0].t.columns],
    rows: parts.flatMap(({ k, r, t }) => t.rows.map((row) => [k + 1, r.run.id, runTitle(r.run), ...row])),
  };
}

export function comparisonCsv(c: ComparisonReport, table: ComparisonTable): string {
  return toCsv(comparisonTable(c, table));
}

/** A batch's comparisons stacked into one table, with the input's 1-based index in front (run k = prompt k). */
export function batchCsv(b: BatchReport, table: ComparisonTable): string {
  const parts = b.comparisons.map((c) => comparisonTable(c, table));
  return toCsv({ columns: ['input', ...parts[0].columns], rows: parts.flatMap((t, i) => t.rows.map((row) => [i + 1, ...row])) });
}

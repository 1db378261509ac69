// Experiment reports: JSON (precache-lens.experiment/1), CSV tables (cells, prompts, pairs) and self-contained HTML.
import { createRequire } from 'node:module';
import { stringify } from 'csv-stringify/sync';
import type { ExperimentDetail, Interval } from '../../shared/experiments.js';
import { renderSvg, runColor, lineChart } from '../report/charts.js';
import { esc } from '../report/html.js';
import { experimentPiVerdict, pairReading, rankPrompts, secondModelWords } from '../../shared/experiment-reading.js';
import { EXPERIMENT_SCHEMA_ID, type ExperimentReport } from './report-schema.js';

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

export const EXPERIMENT_CSV_TABLES = ['cells', 'prompts', 'pairs'] as const;
export type ExperimentCsvTable = (typeof EXPERIMENT_CSV_TABLES)[number];

export function experimentReport(d: ExperimentDetail): ExperimentReport {
  return {
    schema: EXPERIMENT_SCHEMA_ID,
    generatedAt: new Date().toISOString(),
    software: { name: 'precache-lens', version: VERSION },
    experiment: {
      id: d.id,
      label: d.label,
      status: d.status,
      createdAt: d.createdAt,
      finishedAt: d.finishedAt,
      error: d.error,
      models: d.models,
      options: d.options,
      statistics: d.statistics,
      progress: d.progress,
    },
    prompts: d.prompts,
    inputs: d.inputs,
    summary: d.summary,
    pairs: d.pairs,
    twins: d.twins,
    cells: d.cells,
  };
}

type Cell = string | number | null;

// Numbers keep full precision; text cells starting with = + - @ get a leading ' (csv-stringify's escape_formulas).
function toCsv(columns: string[], rows: Cell[][]): string {
  return stringify([columns, ...rows], { cast: { number: (v) => String(v) }, escape_formulas: true, record_delimiter: '\n' });
}

const iv = (x: Interval | null): Cell[] => (x ? [x.mean, x.lo, x.hi] : [null, null, null]);
const ivCols = (name: string) => [name, `${name}_lo`, `${name}_hi`];
const promptLabel = (d: Pick<ExperimentDetail, 'prompts'>, p: number) => d.prompts[p].label ?? `P${p + 1}`;

export function experimentCsv(d: ExperimentDetail, table: ExperimentCsvTable): string {
  if (table === 'cells') {
    const L = Math.max(0, ...d.cells.map((c) => c.depthCurve?.length ?? 0));
    return toCsv(
      ['prompt', 'prompt_label', 'input', 'model', 'run_id', 'status', 'mean_benefit', 'mean_benefit_read', 'precomputation_share', ...Array.from({ length: L }, (_, k) => `depth_${k}`)],
      d.cells.map((c) => [c.prompt, promptLabel(d, c.prompt), c.input, d.models[c.model], c.runId, c.status, c.meanBenefit, c.meanBenefitRead, c.precomputationShare, ...Array.from({ length: L }, (_, k) => c.depthCurve?.[k] ?? null)]),
    );
  }
  if (table === 'prompts') {
    const L = Math.max(0, ...d.summary.map((s) => s.depthCurve.length));
    return toCsv(
      ['prompt', 'prompt_label', 'model', 'n', ...ivCols('mean_benefit'), ...ivCols('mean_benefit_read'), ...ivCols('precomputation_share'), ...ivCols('loss_with_prompt'), ...ivCols('loss_no_prompt'), ...Array.from({ length: L }, (_, k) => ivCols(`depth_${k}`)).flat()],
      d.summary.map((s) => [
        s.prompt,
        promptLabel(d, s.prompt),
        d.models[s.model],
        s.n,
        ...iv(s.meanBenefit),
        ...iv(s.meanBenefitRead),
        ...iv(s.precomputationShare),
        ...iv(s.meanLossWithPrompt),
        ...iv(s.meanLossNoPrompt),
        ...Array.from({ length: L }, (_, k) => iv(s.depthCurve[k] ?? null)).flat(),
      ]),
    );
  }
  return toCsv(
    ['a', 'a_label', 'b', 'b_label', 'model', 'n', ...ivCols('mean_benefit_diff'), 'p', 'p_holm'],
    d.pairs.map((p) => [p.a, promptLabel(d, p.a), p.b, promptLabel(d, p.b), d.models[p.model], p.n, ...iv(p.meanBenefitDiff), p.meanBenefitDiff?.p ?? null, p.meanBenefitDiff?.pHolm ?? null]),
  );
}

/** A forest plot: one row per item, a dot at the estimate and a whisker over its confidence interval. */
export function forestPlot(rows: { label: string; ci: Interval | null; color: string }[], xName: string, label: string): string {
  const shown = rows.filter((r) => r.ci);
  const cats = shown.map((r) => r.label);
  // The axis spans every interval and 0 (no effect), with a little room, so no whisker is cut off.
  const lo = Math.min(0, ...shown.map((r) => r.ci!.lo));
  const hi = Math.max(0, ...shown.map((r) => r.ci!.hi));
  const pad = (hi - lo || 1) * 0.04;
  return renderSvg(
    {
      grid: { left: 160, right: 40, top: 24, bottom: 44 },
      // 0 (no effect) always inside the axis, drawn and labelled, as on the page.
      xAxis: { type: 'value', name: xName, nameLocation: 'middle', nameGap: 28, min: Number((lo - pad).toPrecision(3)), max: Number((hi + pad).toPrecision(3)), axisLabel: { showMinLabel: false, showMaxLabel: false } },
      yAxis: { type: 'category', data: cats, inverse: true, axisLabel: { width: 150, overflow: 'truncate' } },
      series: [
        {
          type: 'custom',
          name: 'CI',
          data: shown.map((r, k) => [r.ci!.lo, r.ci!.hi, k]),
          renderItem: (_params: unknown, api: { value: (i: number) => number; coord: (p: [number, number]) => [number, number] }) => {
            const k = api.value(2);
            const [x0, y] = api.coord([api.value(0), k]);
            const [x1] = api.coord([api.value(1), k]);
            const stroke = shown[k].color;
            return {
              type: 'group',
              children: [
                { type: 'line', shape: { x1: x0, y1: y, x2: x1, y2: y }, style: { stroke, lineWidth: 2 } },
                { type: 'line', shape: { x1: x0, y1: y - 5, x2: x0, y2: y + 5 }, style: { stroke, lineWidth: 2 } },
                { type: 'line', shape: { x1, y1: y - 5, x2: x1, y2: y + 5 }, style: { stroke, lineWidth: 2 } },
              ],
            };
          },
        },
        {
          type: 'scatter',
          name: 'estimate',
          symbolSize: 9,
          data: shown.map((r, k) => ({ value: [r.ci!.mean, k], itemStyle: { color: r.color } })),
          markLine: { silent: true, symbol: 'none', data: [{ xAxis: 0 }], lineStyle: { color: '#374151', type: 'dashed' }, label: { formatter: '0 = no effect', position: 'start', fontSize: 10 } },
        },
      ],
    },
    720,
    Math.max(120, 56 + 30 * shown.length),
    label,
  );
}

/** D(k) curves per prompt with their 95% bands (the band is drawn as a stacked area from lo to hi). */
function depthBands(d: ExperimentReport, model: number): string {
  const rows = d.summary.filter((s) => s.model === model && s.depthCurve.length);
  if (!rows.length) return '';
  const L = rows[0].depthCurve.length;
  return renderSvg(
    {
      grid: { left: 64, right: 24, top: 36, bottom: 44 },
      legend: { top: 4, data: rows.map((s) => promptLabel(d, s.prompt)) },
      xAxis: { type: 'category', data: Array.from({ length: L }, (_, k) => String(k)), name: 'k (knockout of layers k..L-1)', nameLocation: 'middle', nameGap: 28, boundaryGap: false },
      yAxis: { type: 'value', name: 'D(k), nats/token', nameLocation: 'middle', nameGap: 48 },
      series: rows.flatMap((s) => {
        const color = runColor(s.prompt);
        const stack = `band-${s.prompt}`;
        return [
          { type: 'line', stack, stackStrategy: 'all', data: s.depthCurve.map((c) => c.lo), lineStyle: { opacity: 0 }, symbol: 'none', silent: true },
          { type: 'line', stack, stackStrategy: 'all', data: s.depthCurve.map((c) => c.hi - c.lo), lineStyle: { opacity: 0 }, symbol: 'none', areaStyle: { color, opacity: 0.15 }, silent: true },
          { type: 'line', name: promptLabel(d, s.prompt), data: s.depthCurve.map((c) => c.mean), symbolSize: 5, lineStyle: { width: 2, color }, itemStyle: { color } },
        ];
      }),
    },
    720,
    300,
    `Depth curves D(k) per prompt with 95% bands, ${d.experiment.models[model]}`,
  );
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const fmtCi = (x: Interval | null, digits = 4) => (x ? `${fmt(x.mean, digits)} [${fmt(x.lo, digits)}, ${fmt(x.hi, digits)}]` : 'n/a');
const fmtP = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

const CSS = `body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;margin:0 auto;padding:24px;max-width:900px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #e5e7eb}
.muted,p.note{color:#6b7280;font-size:12px}table{border-collapse:collapse;width:100%;font-size:12px;margin:6px 0 12px}
th,td{border-bottom:1px solid #e5e7eb;padding:3px 6px;text-align:left;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}svg.chart{width:100%;height:auto}figure{margin:8px 0}.pi-caveat{color:#92400e;white-space:normal;text-align:left}`;

export function renderExperimentHtml(rep: ExperimentReport): string {
  const d = rep;
  const e = rep.experiment;
  const title = e.label ?? `Experiment ${e.id.slice(0, 8)}`;
  const parts: string[] = [];
  parts.push(`<h1>${esc(title)}</h1>`);
  parts.push(
    `<p class="muted">${rep.prompts.length} prompts × ${rep.inputs.length} inputs on ${esc(secondModelWords(e.models).models)}; status ${esc(e.status)} (${e.progress.done} of ${e.progress.total} cells done${e.progress.failed ? `, ${e.progress.failed} failed or cancelled` : ''}). 95% bootstrap intervals over inputs, ${e.statistics.resamples} resamples, seed ${e.statistics.seed}. Generated ${esc(rep.generatedAt)} by Precache Lens ${esc(rep.software.version)}; schema ${esc(rep.schema)}.</p>`,
  );
  parts.push('<h2>Prompts</h2><table><thead><tr><th>#</th><th>label</th><th>text</th></tr></thead><tbody>');
  rep.prompts.forEach((p, k) => parts.push(`<tr><td>${k + 1}</td><td>${esc(p.label ?? `P${k + 1}`)}</td><td><pre>${esc(p.text)}</pre></td></tr>`));
  parts.push('</tbody></table>');
  rep.experiment.models.forEach((model, m) => {
    const rows = rep.summary.filter((s) => s.model === m);
    parts.push(`<h2>Mean prompt benefit per prompt${rep.experiment.models.length > 1 ? `: ${esc(model)}` : ''}</h2>`);
    parts.push(`<figure>${forestPlot(rows.map((s) => ({ label: promptLabel(d, s.prompt), ci: s.meanBenefit, color: runColor(s.prompt) })), 'mean B, nats/token', `Forest plot of mean prompt benefit B with 95% CIs, ${model}`)}</figure>`);
    parts.push(`<h2>Precomputation share pi per prompt${rep.experiment.models.length > 1 ? `: ${esc(model)}` : ''}</h2>`);
    parts.push(`<p class="note">pi over inputs is a ratio of means, sum D(1) / sum D(0), with inputs resampled as pairs.</p>`);
    const notShare = rows.filter((s) => !experimentPiVerdict(s).ok).map((s) => promptLabel(d, s.prompt));
    if (notShare.length) parts.push(`<p class="note pi-caveat">pi is not a share for ${esc(notShare.join(', '))}: the table below says why; read D(1) in nats instead.</p>`);
    parts.push(`<figure>${forestPlot(rows.map((s) => ({ label: promptLabel(d, s.prompt), ci: s.precomputationShare, color: runColor(s.prompt) })), 'pi = D(1)/D(0)', `Forest plot of the precomputation share pi with 95% CIs, ${model}`)}</figure>`);
    parts.push(`<figure>${depthBands(d, m)}</figure>`);
    parts.push('<table><thead><tr><th>prompt (best mean B first)</th><th class="num">n</th><th class="num">mean B [95% CI]</th><th class="num">mean B x2..xn</th><th class="num">pi</th></tr></thead><tbody>');
    for (const s of rankPrompts(rows)) {
      const v = experimentPiVerdict(s);
      const caveat = v.ok ? '' : `<div class="note pi-caveat">${esc(v.reason)}</div>`;
      parts.push(`<tr><td>${esc(promptLabel(d, s.prompt))}</td><td class="num">${s.n}</td><td class="num">${fmtCi(s.meanBenefit)}</td><td class="num">${fmtCi(s.meanBenefitRead)}</td><td class="num">${fmtCi(s.precomputationShare, 3)}${caveat}</td></tr>`);
    }
    parts.push('</tbody></table>');
    const pairs = rep.pairs.filter((p) => p.model === m);
    if (pairs.length) {
      const tested = pairs.filter((p) => p.meanBenefitDiff).length;
      parts.push('<h3>Which prompt is better?</h3><ul class="pair-sentences">');
      for (const p of pairs) parts.push(`<li>${esc(pairReading(p, promptLabel(d, p.a), promptLabel(d, p.b), tested, e.statistics.level).sentence)}</li>`);
      parts.push('</ul>');
      parts.push('<h3>Pairs: paired difference of mean B</h3><table><thead><tr><th>a</th><th>b</th><th class="num">n</th><th class="num">mean(B_a − B_b) [95% CI]</th><th class="num">p (sign flip)</th><th class="num">p (Holm)</th></tr></thead><tbody>');
      for (const p of pairs) {
        const x = p.meanBenefitDiff;
        parts.push(`<tr><td>${esc(promptLabel(d, p.a))}</td><td>${esc(promptLabel(d, p.b))}</td><td class="num">${p.n}</td><td class="num">${fmtCi(x)}</td><td class="num">${x ? fmtP(x.p) : 'n/a'}</td><td class="num">${x ? fmtP(x.pHolm) : 'n/a'}</td></tr>`);
      }
      parts.push('</tbody></table>');
    }
  });
  if (rep.twins) {
    const words = secondModelWords(e.models);
    parts.push(`<h2>${esc(words.title)}</h2><p class="note">${esc(words.note)}</p>`);
    parts.push(`<table><thead><tr><th>prompt</th><th class="num">n</th><th class="num">${esc(words.gapWith)}</th><th class="num">${esc(words.gapWithout)}</th><th class="num">${esc(words.piDiff.replace(/π/g, 'pi'))}</th></tr></thead><tbody>`);
    for (const t of rep.twins) parts.push(`<tr><td>${esc(promptLabel(d, t.prompt))}</td><td class="num">${t.n}</td><td class="num">${fmtCi(t.myopiaGap)}</td><td class="num">${fmtCi(t.myopiaGapNoPrompt)}</td><td class="num">${fmtCi(t.precomputationShareDiff, 3)}</td></tr>`);
    parts.push('</tbody></table>');
    for (const t of rep.twins) {
      if (!t.lossByPosition.length) continue;
      const [a, b] = rep.experiment.models;
      parts.push(
        `<figure>${lineChart({
          categories: t.lossByPosition.map((x) => String(x.position)),
          series: [
            { name: `${a}, with prompt`, data: t.lossByPosition.map((x) => x.withPrompt[0]), color: runColor(0) },
            { name: `${a}, no prompt`, data: t.lossByPosition.map((x) => x.noPrompt[0]), color: runColor(0), dash: [6, 4] },
            { name: `${b}, with prompt`, data: t.lossByPosition.map((x) => x.withPrompt[1]), color: runColor(1) },
            { name: `${b}, no prompt`, data: t.lossByPosition.map((x) => x.noPrompt[1]), color: runColor(1), dash: [6, 4] },
          ],
          xName: 'input token position',
          yName: 'mean loss, nats',
          label: `Loss against token position, ${promptLabel(d, t.prompt)}`,
        })}<figcaption class="muted">Loss against input token position, ${esc(promptLabel(d, t.prompt))}</figcaption></figure>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>${esc(title)}</title><style>${CSS}</style></head><body>${parts.join('\n')}</body></html>\n`;
}

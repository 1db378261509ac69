// Self-contained HTML reports (one run, a comparison, a batch): inline SVG charts and CSS only, no scripts, no network,
// print-friendly. Every piece of user text (prompt, input, labels, token strings) goes through esc().
import type { AnalysisResult } from '../../shared/analysis.js';
import { nats, pct, piVerdict, sci } from '../../shared/format.js';
import { benefitColor, benefitTextColor, COLORS, isClipped, readColor, readTextColor, robustScale } from '../../shared/palette.js';
import { runTitle } from './build.js';
import { axisToken, heatmap, horizontalBars, lineChart, runColor, variantSeries } from './charts.js';
import type { BatchReport, ComparisonReport, Report } from './schema.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// Numbers as the web UI writes them (shared/format.ts), with one more digit in the report's tables.
const fmt = (x: number | null | undefined, d = 4) => nats(x, d);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const CSS = `
:root { color-scheme: light; --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bg-soft: #f9fafb; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0 auto; padding: 24px; max-width: 900px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); break-after: avoid; page-break-after: avoid; }
h3 { font-size: 14px; margin: 18px 0 6px; break-after: avoid; page-break-after: avoid; }
p.note, .muted { color: var(--muted); font-size: 12px; }
p.note { margin: 4px 0 8px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre.text { white-space: pre-wrap; word-break: break-word; background: var(--bg-soft); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 4px 0 10px; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 12px; margin: 8px 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px; margin: 8px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; break-inside: avoid; page-break-inside: avoid; }
.card .v { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .k { font-size: 12px; color: var(--muted); }
figure.chart-box { margin: 8px 0 16px; break-inside: avoid; page-break-inside: avoid; }
figure.chart-box figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
svg.chart { display: block; width: 100%; height: auto; }
.tokens { white-space: pre-wrap; word-break: break-word; font: 13px/1.9 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; margin: 4px 0 8px; }
.tok { border-radius: 3px; padding: 1px 0; }
.tok.bos { color: var(--muted); }
.tok.clipped { outline: 2px solid #111827; outline-offset: -1px; }
.pi-warn { color: #92400e; background: #fffbeb; border: 1px solid #fcd34d; border-radius: 6px; padding: 4px 8px; font-size: 12px; }
ul.chart-legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 0 0 2px 64px; padding: 0; font-size: 11px; color: #374151; }
ul.chart-legend li { display: flex; align-items: center; gap: 6px; }
.legend { display: flex; align-items: center; gap: 6px; font-size: 11px; color: var(--muted); margin: 2px 0 10px; }
.legend .swatch { display: inline-block; width: 120px; height: 10px; border-radius: 2px; }
.run-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; vertical-align: baseline; }
section.input-group { break-before: page; page-break-before: always; }
section.input-group:first-of-type { break-before: auto; page-break-before: auto; }
footer { margin-top: 32px; font-size: 11px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 6px; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  h2 { margin-top: 18px; }
  a { color: inherit; text-decoration: none; }
}
`;

/** No scripts, no remote anything: the policy makes a stray reference fail closed instead of reaching the network. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:";

function page(title: string, body: string, generatedAt: string, schema: string, software: Report['software']): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="precache-lens ${esc(software.precacheLens)}">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<footer>Generated ${esc(generatedAt)} by Precache Lens ${esc(software.precacheLens)} (Node ${esc(software.node)}, onnxruntime-node ${esc(software.onnxruntimeNode)}). The same data as JSON: schema <code>${esc(schema)}</code>.</footer>
</body>
</html>
`;
}

function figure(svg: string, caption: string): string {
  return `<figure class="chart-box">${svg}<figcaption>${caption}</figcaption></figure>`;
}

function card(value: string, label: string): string {
  return `<div class="card"><div class="v">${value}</div><div class="k">${label}</div></div>`;
}

function tokenSpan(text: string, bg: string, fg: string, title: string, cls = 'tok'): string {
  // Newlines stay real (the flow wraps there) but get a visible mark.
  const shown = esc(text).replace(/\n/g, '↵\n').replace(/\t/g, '⇥\t');
  return `<span class="${cls}" style="background:${bg};color:${fg}" title="${esc(title)}">${shown}</span>`;
}

/** The benefit colour scale: the 95th percentile of |B_t| (the web UI's rule), so one extreme token cannot wash out the rest. */
function benefitScale(results: AnalysisResult[]): number {
  return robustScale(results.flatMap((r) => r.input.tokens.map((t) => t.benefit)));
}

function inputTokensHtml(r: AnalysisResult, scale: number): string {
  const toks = r.input.tokens
    .map((t, k) => {
      const clipped = isClipped(t.benefit, scale);
      const title = `x${k + 1} (position ${t.position}) benefit ${fmt(t.benefit)} nats${clipped ? ' (beyond the colour scale)' : ''}; loss ${fmt(t.lossWithPrompt)} with prompt, ${fmt(t.lossNoPrompt)} without`;
      return tokenSpan(t.text, benefitColor(t.benefit, scale), benefitTextColor(t.benefit, scale), title, clipped ? 'tok clipped' : 'tok');
    })
    .join('');
  return `<div class="tokens">${toks}</div>`;
}

function benefitLegend(scale: number, results: AnalysisResult[]): string {
  const clipped = results.reduce((a, r) => a + r.input.tokens.filter((t) => isClipped(t.benefit, scale)).length, 0);
  const ramp = `linear-gradient(90deg, ${benefitColor(-scale, scale)}, #ffffff, ${benefitColor(scale, scale)})`;
  const note = clipped ? `<span>${clipped} token${clipped === 1 ? '' : 's'} beyond ±${fmt(scale, 2)} drawn at full colour and outlined</span>` : '';
  return `<div class="legend"><span>prompt hurts (−${fmt(scale, 2)} nats)</span><span class="swatch" style="background:${ramp}"></span><span>prompt helps (+${fmt(scale, 2)} nats; scale = 95th percentile of |B_t|)</span>${note}</div>`;
}

/** A warning under π wherever it is shown, when D(0) is too small or π leaves 0–100% (the web UI's rule). */
function piNote(r: AnalysisResult): string {
  const v = piVerdict(r.depthCurve[0], r.summary.precomputationShare);
  return v.ok ? '' : `<p class="pi-warn">${esc(v.reason)}</p>`;
}

/** Total norm-weighted read of each prompt token, summed over layers (the read map's column sums). */
function promptReads(r: AnalysisResult): number[] {
  return range(r.p).map((j) => r.readMap.reduce((a, row) => a + (row[j] ?? 0), 0));
}

function promptTokensHtml(r: AnalysisResult): string {
  if (r.p === 0) return '<p class="note">The prompt is empty.</p>';
  const reads = promptReads(r);
  const scale = Math.max(1e-12, ...reads);
  const toks = r.prompt.tokens.map((t, j) => tokenSpan(t.text, readColor(reads[j], scale), readTextColor(reads[j], scale), `prompt token ${j} (position ${j + 1}): read ${reads[j].toExponential(3)} summed over layers`)).join('');
  return `<div class="tokens">${tokenSpan(r.bos.text || '[BOS]', 'transparent', 'inherit', `position 0: ${r.bos.source.toUpperCase()} (attention sink, not prompt)`, 'tok bos')}${toks}</div>
<div class="legend"><span>read little</span><span class="swatch" style="background:linear-gradient(90deg, ${readColor(0, 1)}, ${readColor(1, 1)})"></span><span>read most (norm-weighted read map, summed over layers)</span></div>`;
}

function headlineCards(r: AnalysisResult): string {
  const s = r.summary;
  return `<div class="cards">
${card(fmt(s.meanBenefit), 'mean prompt benefit B (nats/token, all of X)')}
${card(fmt(s.meanBenefitRead), 'mean benefit over x₂..xₙ = D(0) (x₁ is predicted at the prompt\'s last column, which no knockout reaches)')}
${card(pct(s.precomputationShare), 'precomputation share π = D(1)/D(0)')}
${card(fmt(s.meanLossWithPrompt), 'loss with prompt (nats/token)')}
${card(fmt(s.meanLossNoPrompt), 'loss without prompt (same positions)')}
${card(fmt(s.meanLossNoPromptNatural), 'loss without prompt (natural positions)')}
${card(pct(s.attentionRolloutShare), 'attention rollout share')}
${card(sci(s.identityResidual), 'knockout identity residual |K(all) − B|')}
${card(`${r.p} / ${r.n}`, 'prompt / input tokens')}
</div>
${piNote(r)}`;
}

function metaList(rows: [string, string][]): string {
  return `<dl class="meta">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

function layerLabels(L: number): string[] {
  return range(L).map((l) => String(l));
}

function runCharts(r: AnalysisResult): string {
  const L = r.model.nLayer;
  const parts: string[] = [];
  parts.push(`<h2>Depth curve</h2><p class="note">D(k) = mean loss increase on x₂..xₙ when every edge from the input to the prompt is blocked at layers k..L−1. D(0) is the whole benefit; π = D(1)/D(0) is the part that needs computation done at the prompt's own columns.</p>`);
  parts.push(figure(lineChart({ categories: range(L + 1).map(String), series: [{ name: 'D(k)', data: r.depthCurve, color: COLORS.knockout }], xName: 'first blocked layer k', yName: 'D(k) (nats)', label: 'Depth curve D(k)' }), `D(0) = ${fmt(r.depthCurve[0])}, D(1) = ${fmt(r.depthCurve[1] ?? null)} nats, π = ${pct(r.summary.precomputationShare)}`) + piNote(r));
  parts.push(`<h2>Layer profile</h2><p class="note">K of a window of layers around each layer (radius ${r.options.layerWindow}): how much the input loses when only those layers cannot read the prompt.</p>`);
  parts.push(figure(lineChart({ categories: layerLabels(L), series: [{ name: 'K(window)', data: r.layerProfile.map((x) => x.k), color: COLORS.knockout, bar: true }], xName: 'layer', yName: 'K (nats)', label: 'Layer profile' }), 'Layer profile: K of the window around each layer'));
  parts.push(`<h2>Read shares per layer</h2><p class="note">Attention read share: the input's attention on prompt columns, sink (BOS) mass removed. Norm-weighted: attention × ‖v W_O‖. Sink: attention on BOS.</p>`);
  parts.push(
    figure(
      lineChart({
        categories: layerLabels(L),
        series: [
          { name: 'attention read share', data: r.layers.map((l) => l.attention), color: COLORS.attention },
          { name: 'norm-weighted read share', data: r.layers.map((l) => l.normWeighted), color: COLORS.normWeighted, dash: [8, 4] },
          { name: 'sink (BOS) mass', data: r.layers.map((l) => l.sink), color: COLORS.sink, dash: [2, 3] },
        ],
        xName: 'layer',
        yName: 'share',
        label: 'Read shares per layer',
        percent: true,
      }),
      'Read shares per layer',
    ),
  );
  const H = r.model.nHead;
  parts.push(`<h2>Heads</h2>`);
  parts.push(figure(heatmap({ xLabels: range(H).map((h) => `h${h}`), yLabels: layerLabels(L), values: r.layers.map((l) => l.normWeightedPerHead), xName: 'head', yName: 'layer', label: 'Norm-weighted read share per head', percent: true, height: Math.max(160, 110 + L * 20) }), 'Norm-weighted read share per layer and head'));
  parts.push(figure(heatmap({ xLabels: range(H).map((h) => `h${h}`), yLabels: layerLabels(L), values: r.layers.map((l) => l.attentionPerHead), xName: 'head', yName: 'layer', label: 'Attention read share per head', percent: true, height: Math.max(160, 110 + L * 20) }), 'Attention read share per layer and head'));
  parts.push(`<h2>Read map</h2>`);
  if (r.p > 0) {
    parts.push(
      figure(
        heatmap({ xLabels: r.prompt.tokens.map((t, j) => `${j}:${axisToken(t.text)}`), yLabels: layerLabels(L), values: r.readMap, xName: 'prompt token', yName: 'layer', label: 'Read map: prompt tokens by layer' }),
        'Mean over the input of the norm-weighted read of each prompt token, per layer',
      ),
    );
  } else parts.push('<p class="note">No prompt tokens: nothing to read.</p>');
  parts.push(`<h2>Spans</h2>`);
  if (r.spans.length) {
    parts.push(
      figure(
        horizontalBars({
          categories: r.spans.map((s) => axisToken(s.label, 24)),
          series: [
            { name: 'K, all layers', data: r.spans.map((s) => s.kAllLayers), color: COLORS.knockout },
            { name: 'K, layers ≥ 1', data: r.spans.map((s) => s.kFromLayer1), color: COLORS.knockoutFromLayer1 },
          ],
          xName: 'K (nats)',
          label: 'Span importance',
        }),
        `Span importance (${esc(r.options.spans)} spans): loss increase when the input cannot read the span`,
      ),
    );
  } else parts.push('<p class="note">No spans (empty prompt).</p>');
  return parts.join('\n');
}

function tokenTable(r: AnalysisResult): string {
  const rows = r.input.tokens
    .map((t, k) => `<tr><td class="num">${k + 1}</td><td class="num">${t.position}</td><td class="mono">${esc(JSON.stringify(t.text))}</td><td class="num">${fmt(t.lossWithPrompt)}</td><td class="num">${fmt(t.lossNoPrompt)}</td><td class="num">${fmt(t.lossNoPromptNatural)}</td><td class="num">${fmt(t.benefit)}</td></tr>`)
    .join('');
  return `<table><thead><tr><th class="num">#</th><th class="num">pos</th><th>token</th><th class="num">loss with P</th><th class="num">loss without P</th><th class="num">without P, natural pos</th><th class="num">benefit</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function spanTable(r: AnalysisResult): string {
  if (!r.spans.length) return '';
  const rows = r.spans
    .map((s) => `<tr><td>${esc(s.label)}</td><td class="num">${s.tokenStart}..${s.tokenEnd - 1}</td><td class="num">${s.charStart}..${s.charEnd}</td><td class="num">${fmt(s.kAllLayers)}</td><td class="num">${fmt(s.kFromLayer1)}</td></tr>`)
    .join('');
  return `<table><thead><tr><th>span</th><th class="num">tokens</th><th class="num">chars</th><th class="num">K all layers</th><th class="num">K layers ≥ 1</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function modelRows(m: Report['model'], t: Report['tokenizer']): [string, string][] {
  return [
    ['model', `${m.name} (${m.id})`],
    ['shape', `${m.config.nLayer} layers, ${m.config.nHead} heads, d=${m.config.dModel}, context ${m.config.nCtx}, vocab ${m.config.vocabSize}`],
    ['graph sha256', `${m.hash}${m.graphFile ? ` (${m.graphFile})` : ''}`],
    ['tokenizer', `${t.file ?? 'n/a'}; position 0 = ${JSON.stringify(t.bos.text)} (id ${t.bos.id}, ${t.bos.source})`],
  ];
}

export function renderReportHtml(rep: Report): string {
  const r = rep.metrics;
  const title = `Precache Lens report — ${runTitle(rep.run)}`;
  const scale = benefitScale([r]);
  const body = `
<header>
<h1>${esc(title)}</h1>
${metaList([
  ...modelRows(rep.model, rep.tokenizer),
  ['run', `${rep.run.id ?? '(not stored)'}${rep.run.createdAt ? `, created ${rep.run.createdAt}` : ''}${rep.run.parentId ? `, forked from ${rep.run.parentId}` : ''}`],
  ['options', `spans ${r.options.spans}, layer window ${r.options.layerWindow}, top-k ${r.options.topK}, span knockouts ${r.options.spanKnockouts ? 'on' : 'off'}`],
  ['timing', `${(rep.timings.totalMs / 1000).toFixed(2)} s, ${rep.timings.engineCalls} engine calls, ${rep.variants.length} variants`],
])}
</header>
<h2>Headline</h2>
${headlineCards(r)}
<h2>Prompt</h2>
<pre class="text">${esc(rep.run.prompt)}</pre>
${promptTokensHtml(r)}
<h2>Input, coloured by prompt benefit</h2>
${inputTokensHtml(r, scale)}
${benefitLegend(scale, [r])}
${runCharts(r)}
${r.spans.length ? `<h3>Span table</h3>${spanTable(r)}` : ''}
<h2>Per-token losses</h2>
${tokenTable(r)}
`;
  return page(title, body, rep.generatedAt, rep.schema, rep.software);
}

function comparisonSection(c: ComparisonReport, opts: { heading: string; level: 'h1' | 'h2' }): string {
  const runs = c.runs.map((x) => x.metrics);
  const L = c.model.config.nLayer;
  // Legend names stay short; the prompts are listed in full above the charts.
  const names = c.runs.map((x, k) => {
    const t = runTitle(x.run);
    return `#${k + 1} ${t.length > 22 ? `${t.slice(0, 21)}…` : t}`;
  });
  const scale = benefitScale(runs);
  const dot = (k: number) => `<span class="run-dot" style="background:${runColor(k)}"></span>`;
  const sub = opts.level === 'h1' ? 'h2' : 'h3';
  const headRows = c.runs
    .map((x, k) => {
      const s = x.metrics.summary;
      return `<tr><td>${dot(k)}${k + 1}</td><td>${esc(runTitle(x.run))}</td><td class="num">${x.metrics.p}</td><td class="num">${fmt(s.meanLossWithPrompt)}</td><td class="num">${fmt(s.meanBenefit)}</td><td class="num">${fmt(s.meanBenefitRead)}</td><td class="num">${pct(s.precomputationShare)}${piVerdict(x.metrics.depthCurve[0], s.precomputationShare).ok ? '' : ' ⚠'}</td><td class="num">${pct(s.attentionRolloutShare)}</td></tr>`;
    })
    .join('');
  const prompts = c.runs.map((x, k) => `<h3>${dot(k)}#${k + 1} ${esc(runTitle(x.run))}${x.run.id ? ` <span class="muted mono">${esc(x.run.id)}</span>` : ''}</h3><pre class="text">${esc(x.run.prompt)}</pre>`).join('\n');
  const tokenRows = c.runs.map((x, k) => `<h3>${dot(k)}#${k + 1} ${esc(runTitle(x.run))} — mean benefit ${fmt(x.metrics.summary.meanBenefit)}</h3>${inputTokensHtml(x.metrics, scale)}`).join('\n');
  const cats = c.tokens.map((t) => `${t.index + 1}:${axisToken(t.text, 8)}`);
  const tokenTableRows = c.tokens
    .map((t) => `<tr><td class="num">${t.index + 1}</td><td class="mono">${esc(JSON.stringify(t.text))}</td><td class="num">${fmt(t.lossNoPromptNatural)}</td>${c.runs.map((_, k) => `<td class="num">${fmt(t.lossWithPrompt[k])}</td><td class="num">${fmt(t.benefit[k])}</td>`).join('')}</tr>`)
    .join('');
  const charts = [
    figure(lineChart({ categories: range(L + 1).map(String), series: runs.map((r, k) => variantSeries(k, names[k], r.depthCurve)), xName: 'first blocked layer k', yName: 'D(k) (nats)', label: 'Depth curves' }), 'Depth curves D(k), overlaid'),
    figure(lineChart({ categories: layerLabels(L), series: runs.map((r, k) => variantSeries(k, names[k], r.layerProfile.map((x) => x.k))), xName: 'layer', yName: 'K (nats)', label: 'Layer profiles' }), 'Layer profiles: K of the window around each layer'),
    figure(lineChart({ categories: layerLabels(L), series: runs.map((r, k) => variantSeries(k, names[k], r.layers.map((l) => l.normWeighted))), xName: 'layer', yName: 'share', label: 'Norm-weighted read share per layer', percent: true }), 'Norm-weighted read share per layer'),
    figure(lineChart({ categories: layerLabels(L), series: runs.map((r, k) => variantSeries(k, names[k], r.layers.map((l) => l.attention))), xName: 'layer', yName: 'share', label: 'Attention read share per layer', percent: true }), 'Attention read share per layer (sink removed)'),
    figure(lineChart({ categories: cats, series: runs.map((r, k) => variantSeries(k, names[k], r.input.tokens.map((t) => t.benefit), true)), xName: 'input token', yName: 'benefit (nats)', label: 'Per-token benefit', height: 300 }), 'Per-token prompt benefit B_t for each run'),
  ];
  if (c.runs.length > 1) {
    charts.push(
      figure(
        lineChart({ categories: cats, series: runs.slice(1).map((_, j) => variantSeries(j + 1, `${names[j + 1]} − #1`, c.tokens.map((t) => t.benefitVsFirst[j + 1]), true)), xName: 'input token', yName: 'Δ loss (nats)', label: 'Per-token benefit difference against run 1', height: 300 }),
        'Per-token difference against run #1: loss with #1\'s prompt minus loss with this prompt (> 0: this prompt does better)',
      ),
    );
  }
  return `<${opts.level}>${esc(opts.heading)}</${opts.level}>
<p class="note">${c.runs.length} prompt variants on one input; model ${esc(c.model.name)} (${L} layers).</p>
<${sub}>Input</${sub}>
<pre class="text">${esc(c.input.text)}</pre>
<${sub}>Headline</${sub}>
<table><thead><tr><th>#</th><th>run</th><th class="num">p</th><th class="num">loss with P</th><th class="num">mean benefit</th><th class="num">benefit x₂..xₙ</th><th class="num">π</th><th class="num">rollout</th></tr></thead><tbody>${headRows}</tbody></table>
${runs.some((r) => !piVerdict(r.depthCurve[0], r.summary.precomputationShare).ok) ? '<p class="note">⚠ π is no share for this run: D(0) is below 0.02 nats or negative, or π leaves 0–100%; compare D(1) in nats (the depth curves) instead.</p>' : ''}
<${sub}>Prompts</${sub}>
${prompts}
<${sub}>Curves</${sub}>
${charts.join('\n')}
<${sub}>Input coloured by benefit, per prompt</${sub}>
${benefitLegend(scale, runs)}
${tokenRows}
<${sub}>Per-token losses</${sub}>
<table><thead><tr><th class="num">#</th><th>token</th><th class="num">no prompt (natural)</th>${c.runs.map((_, k) => `<th class="num">${dot(k)}#${k + 1} loss</th><th class="num">#${k + 1} benefit</th>`).join('')}</tr></thead><tbody>${tokenTableRows}</tbody></table>`;
}

export function renderComparisonHtml(c: ComparisonReport): string {
  const title = `Precache Lens comparison — ${c.runs.length} prompts`;
  const body = `${comparisonSection(c, { heading: title, level: 'h1' })}
<h2>Model</h2>
${metaList(modelRows(c.model, c.tokenizer))}`;
  return page(title, body, c.generatedAt, c.schema, c.software);
}

export function renderBatchHtml(b: BatchReport): string {
  const title = `Precache Lens batch — ${b.prompts.length} prompts × ${b.inputs.length} inputs`;
  const matrix = b.comparisons.map((c) => c.runs.map((x) => x.metrics.summary.meanBenefit));
  const pi = b.comparisons.map((c) => c.runs.map((x) => x.metrics.summary.precomputationShare));
  const overviewRows = b.prompts
    .map((_, p) => `<tr><td>P${p + 1}</td>${b.inputs.map((_, i) => `<td class="num">${fmt(matrix[i][p])}</td><td class="num">${pct(pi[i][p])}</td>`).join('')}</tr>`)
    .join('');
  const body = `<h1>${esc(title)}</h1>
${metaList(modelRows(b.model, b.tokenizer))}
<h2>Overview</h2>
${figure(
  heatmap({ xLabels: b.inputs.map((_, i) => `I${i + 1}`), yLabels: b.prompts.map((_, p) => `P${p + 1}`), values: b.prompts.map((_, p) => b.inputs.map((_, i) => matrix[i][p])), xName: 'input', yName: 'prompt', label: 'Mean prompt benefit, prompts by inputs', diverging: true, height: Math.max(160, 110 + b.prompts.length * 22) }),
  'Mean prompt benefit (nats/token) of each prompt on each input: blue helps, red hurts',
)}
<table><thead><tr><th>prompt</th>${b.inputs.map((_, i) => `<th class="num">I${i + 1} benefit</th><th class="num">I${i + 1} π</th>`).join('')}</tr></thead><tbody>${overviewRows}</tbody></table>
<h3>Prompts</h3>
${b.prompts.map((p, k) => `<h3>P${k + 1}</h3><pre class="text">${esc(p)}</pre>`).join('\n')}
${b.comparisons.map((c, i) => `<section class="input-group">${comparisonSection(c, { heading: `Input I${i + 1}`, level: 'h2' })}</section>`).join('\n')}`;
  return page(title, body, b.generatedAt, b.schema, b.software);
}

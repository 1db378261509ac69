// One experiment: live progress, the prompt x input matrix, forest plots of mean B and pi, D(k) bands, pairs and twins.
import { useQueryClient } from '@tanstack/react-query';
import type { ExperimentDetail, Interval } from '@shared/experiments.js';
import { experimentPiVerdict, pairReading, rankPrompts, secondModelWords } from '@shared/experiment-reading.js';
import { experimentKeys, experimentsApi, useExperiment } from '../data/experiments';
import { useWorkbench } from '../state/store';
import { variantStyle } from '../theme';
import { Card } from './Card';
import { ExperimentDepthBands } from './ExperimentDepthBands';
import { ExperimentForestPlot } from './ExperimentForestPlot';
import { ExperimentMatrix } from './ExperimentMatrix';
import './ExperimentViews.css';
import { TableScroll } from './TableScroll';
import { pct } from '@shared/format.js';

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const fmtCi = (x: Interval | null, d = 3) => (x ? `${fmt(x.mean, d)} [${fmt(x.lo, d)}, ${fmt(x.hi, d)}]` : 'n/a');
const pctCi = (x: Interval | null) => (x ? `${pct(x.mean)} [${pct(x.lo)}, ${pct(x.hi)}]` : 'n/a');
const fmtP = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

function eta(s: number | null): string {
  if (s === null) return 'estimating…';
  if (s < 60) return `${s} s left`;
  return `${Math.round(s / 60)} min left`;
}

/** Each prompt's text, n, mean B and π with intervals, best mean B first; π marked where it is not a share. */
function PromptTable({ d, model }: { d: ExperimentDetail; model: number }) {
  const rows = rankPrompts(d.summary.filter((s) => s.model === model));
  const label = (p: number) => d.prompts[p].label ?? `P${p + 1}`;
  return (
    <Card title="Prompts, best first" subtitle="Mean prompt benefit B (nats/token; > 0: the prompt lowers the loss) and π, each with its 95% bootstrap interval over inputs." testId="prompt-table">
      <TableScroll label="Prompts table">
        <table className="experiment-table">
          <thead>
            <tr>
              <th>prompt</th>
              <th>text</th>
              <th className="num">n</th>
              <th className="num">mean B [95% CI]</th>
              <th className="num">π [95% CI]</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => {
              const v = experimentPiVerdict(s);
              return (
                <tr key={s.prompt} data-testid="prompt-row" data-prompt={s.prompt}>
                  <td>
                    <span className="swatch" style={{ background: variantStyle(s.prompt).color }} aria-hidden="true" /> {label(s.prompt)}
                  </td>
                  <td className="prompt-text">{d.prompts[s.prompt].text}</td>
                  <td className="num">{s.n}</td>
                  <td className="num">{fmtCi(s.meanBenefit)}</td>
                  <td className="num">
                    {pctCi(s.precomputationShare)}
                    {!v.ok && (
                      <div className="pi-caveat" data-testid="pi-caveat">
                        {v.reason}
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableScroll>
    </Card>
  );
}

function ModelSection({ d, model }: { d: ExperimentDetail; model: number }) {
  const rows = d.summary.filter((s) => s.model === model);
  const label = (p: number) => d.prompts[p].label ?? `P${p + 1}`;
  const pairs = d.pairs.filter((p) => p.model === model);
  return (
    <>
      {d.models.length > 1 && <h3 className="experiment-model">{d.models[model]}</h3>}
      <Card title="Prompt × input" subtitle="Colour: the cell's mean benefit B. Click a finished cell to open it as a run.">
        <ExperimentMatrix d={d} model={model} />
      </Card>
      <PromptTable d={d} model={model} />
      <div className="experiment-grid">
        <Card title="Mean prompt benefit B per prompt" subtitle="Mean over inputs, nats/token, with 95% bootstrap intervals. Right of 0: the prompt lowers the loss." testId="forest-benefit-card">
          <ExperimentForestPlot
            rows={rows.map((s) => ({ label: label(s.prompt), ci: s.meanBenefit, color: variantStyle(s.prompt).color }))}
            axisLabel="mean B, nats/token"
            title={`Forest plot of mean prompt benefit B with 95% CIs, ${d.models[model]}`}
            testId="forest-benefit"
          />
        </Card>
        <Card title="Precomputation share π per prompt" subtitle="A ratio of means, Σ D(1) / Σ D(0), with 95% bootstrap intervals. Hollow: not a share (see the prompt table)." testId="forest-pi-card">
          <ExperimentForestPlot
            rows={rows.map((s) => {
              const v = experimentPiVerdict(s);
              return { label: label(s.prompt), ci: s.precomputationShare, color: variantStyle(s.prompt).color, caveat: v.ok ? undefined : 'not a share' };
            })}
            axisLabel="π = D(1)/D(0), % of D(0)"
            format={(v) => pct(v, 0)}
            title={`Forest plot of the precomputation share π with 95% CIs, ${d.models[model]}`}
            testId="forest-pi"
          />
        </Card>
      </div>
      <Card title="Depth curves D(k)" subtitle="Mean over inputs with 95% bands.">
        <ExperimentDepthBands d={d} model={model} />
      </Card>
      {pairs.length > 0 && (
        <Card title="Which prompt is better?" subtitle="Paired difference of mean B on the same inputs; sign-flip permutation p, Holm-adjusted over this model's pairs." testId="experiment-pairs">
          <ul className="pair-sentences">
            {pairs.map((p) => {
              const r = pairReading(p, label(p.a), label(p.b), pairs.filter((q) => q.meanBenefitDiff).length, d.statistics.level);
              return (
                <li key={`${p.a}-${p.b}`} data-testid="pair-sentence" className={r.winner ? 'shown' : undefined}>
                  {r.sentence}
                </li>
              );
            })}
          </ul>
          <TableScroll label="Pairs table">
          <table className="experiment-table">
            <thead>
              <tr>
                <th>a</th>
                <th>b</th>
                <th className="num">n</th>
                <th className="num">mean(B_a − B_b) [95% CI]</th>
                <th className="num">p</th>
                <th className="num">p (Holm)</th>
              </tr>
            </thead>
            <tbody>
              {pairs.map((p) => (
                <tr key={`${p.a}-${p.b}`} data-testid="pair-row">
                  <td>{label(p.a)}</td>
                  <td>{label(p.b)}</td>
                  <td className="num">{p.n}</td>
                  <td className="num">{fmtCi(p.meanBenefitDiff, 4)}</td>
                  <td className="num">{p.meanBenefitDiff ? fmtP(p.meanBenefitDiff.p) : 'n/a'}</td>
                  <td className="num">{p.meanBenefitDiff ? fmtP(p.meanBenefitDiff.pHolm) : 'n/a'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </TableScroll>
        </Card>
      )}
    </>
  );
}

export function ExperimentResults({ id }: { id: string }) {
  const { data: d, error } = useExperiment(id);
  const qc = useQueryClient();
  const back = useWorkbench((s) => s.openExperiments);
  if (error) return <p className="field-error">{(error as Error).message}</p>;
  if (!d) return <p className="muted">Loading the experiment…</p>;
  const pct = d.progress.total ? (100 * (d.progress.done + d.progress.failed)) / d.progress.total : 0;
  const cancel = async () => {
    await experimentsApi.cancel(id);
    await qc.invalidateQueries({ queryKey: experimentKeys.one(id) });
  };
  return (
    <div className="experiments" data-testid="experiment-results">
      <button type="button" className="link small" onClick={() => back(null)}>
        ← all experiments
      </button>
      <h2>{d.label ?? `Experiment ${d.id.slice(0, 8)}`}</h2>
      <p className="muted">
        {d.prompts.length} prompts × {d.inputs.length} inputs on {secondModelWords(d.models).models} · {d.statistics.resamples} resamples, seed {d.statistics.seed}
      </p>
      <div className="experiment-status">
        <span data-testid="experiment-status" data-status={d.status}>
          {d.status}
        </span>
        <div className="experiment-progress" role="progressbar" aria-label="cells done" aria-valuemin={0} aria-valuemax={d.progress.total} aria-valuenow={d.progress.done}>
          <div style={{ width: `${pct}%` }} />
        </div>
        <span data-testid="experiment-progress">
          {d.progress.done}/{d.progress.total} cells{d.progress.failed ? `, ${d.progress.failed} failed or cancelled` : ''}
          {d.status === 'running' ? ` · ${eta(d.progress.etaS)}` : ''}
        </span>
        {d.status === 'running' && (
          <button type="button" className="btn small" onClick={() => void cancel()} data-testid="experiment-cancel">
            Cancel
          </button>
        )}
        <a className="btn small" href={`/api/experiments/${d.id}/report.html?inline=1`} target="_blank" rel="noreferrer">
          HTML report
        </a>
        <a className="btn small" href={`/api/experiments/${d.id}/report.json`}>
          JSON
        </a>
        {(['cells', 'prompts', 'pairs'] as const).map((t) => (
          <a key={t} className="btn small" href={`/api/experiments/${d.id}/report.csv?table=${t}`}>
            {t}.csv
          </a>
        ))}
      </div>
      {d.error && <p className="muted">{d.error}</p>}
      {d.models.map((_, m) => (
        <ModelSection key={m} d={d} model={m} />
      ))}
      {d.twins && (
        <Card title={secondModelWords(d.models).title} subtitle={secondModelWords(d.models).note} testId="experiment-twins">
          <TableScroll label={`${secondModelWords(d.models).title} table`}>
          <table className="experiment-table">
            <thead>
              <tr>
                <th>prompt</th>
                <th className="num">n</th>
                <th className="num">gap with prompt</th>
                <th className="num">gap without</th>
                <th className="num">{secondModelWords(d.models).piDiff}</th>
              </tr>
            </thead>
            <tbody>
              {d.twins.map((t) => (
                <tr key={t.prompt}>
                  <td>{d.prompts[t.prompt].label ?? `P${t.prompt + 1}`}</td>
                  <td className="num">{t.n}</td>
                  <td className="num">{fmtCi(t.myopiaGap)}</td>
                  <td className="num">{fmtCi(t.myopiaGapNoPrompt)}</td>
                  <td className="num">{fmtCi(t.precomputationShareDiff)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </TableScroll>
        </Card>
      )}
    </div>
  );
}

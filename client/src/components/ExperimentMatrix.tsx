// The prompt x input matrix, filling as cells finish: colour = the cell's mean benefit; a finished cell opens as a run.
import type { ExperimentDetail } from '@shared/experiments.js';
import { benefitColor, robustScale } from '../theme';
import { useWorkbench } from '../state/store';

export function ExperimentMatrix({ d, model }: { d: ExperimentDetail; model: number }) {
  const openRun = useWorkbench((s) => s.openRun);
  const cells = d.cells.filter((c) => c.model === model);
  const scale = robustScale(cells.filter((c) => c.meanBenefit !== null).map((c) => Math.abs(c.meanBenefit!)));
  const at = new Map(cells.map((c) => [`${c.prompt}:${c.input}`, c]));
  return (
    <div className="experiment-matrix" data-testid="experiment-matrix" role="table" aria-label={`Prompt × input matrix, ${d.models[model]}`}>
      {d.prompts.map((p, pi) => (
        <div role="row" className="matrix-row" key={pi}>
          <span role="rowheader" className="matrix-label" title={p.text}>
            {p.label ?? `P${pi + 1}`}
          </span>
          {d.inputs.map((_, ii) => {
            const c = at.get(`${pi}:${ii}`);
            const done = c?.status === 'done' && c.meanBenefit !== null;
            const title = `P${pi + 1} × X${ii + 1}: ${c?.status ?? 'pending'}${done ? `, mean B ${c!.meanBenefit!.toFixed(3)}` : ''}${c?.worker ? `, computed by ${c.worker}` : ''}`;
            return (
              <button
                type="button"
                role="cell"
                key={ii}
                className={`matrix-cell ${c?.status ?? 'pending'}`}
                style={done ? { background: benefitColor(c!.meanBenefit!, scale) } : undefined}
                title={title}
                aria-label={title}
                disabled={!c?.runId}
                data-testid="matrix-cell"
                data-status={c?.status ?? 'pending'}
                onClick={() => c?.runId && openRun(c.runId)}
              />
            );
          })}
        </div>
      ))}
    </div>
  );
}

// The experiments run so far, newest first, with their progress; one opens its results.
import { useExperimentList } from '../data/experiments';
import { useWorkbench } from '../state/store';
import { Card } from './Card';

export function ExperimentHistory() {
  const { data, error } = useExperimentList();
  const open = useWorkbench((s) => s.openExperiments);
  return (
    <Card title="Experiment history" testId="experiment-history">
      {error && <p className="field-error">{(error as Error).message}</p>}
      {data && data.experiments.length === 0 && <p className="muted">No experiments yet.</p>}
      <ul className="experiment-list">
        {data?.experiments.map((e) => (
          <li key={e.id}>
            <button type="button" className="link" onClick={() => open(e.id)} data-testid="experiment-history-item">
              {e.label ?? `Experiment ${e.id.slice(0, 8)}`}
            </button>{' '}
            <span className="muted">
              {e.prompts} prompts × {e.inputs} inputs · {e.models.join(' + ')} · {e.status} {e.progress.done}/{e.progress.total}
            </span>
          </li>
        ))}
      </ul>
    </Card>
  );
}

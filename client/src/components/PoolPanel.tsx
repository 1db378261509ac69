// The worker pool, when the server runs analyses on one (pool mode): workers, their models and jobs, and the models
// no worker has (their runs wait).
import { useQuery } from '@tanstack/react-query';
import { api } from '../data/api';
import { timeAgo } from '../format';

export function PoolPanel() {
  const { data } = useQuery({ queryKey: ['workers'], queryFn: () => api.workers(), refetchInterval: 5000 });
  if (!data || data.backend !== 'pool') return null;
  const orphans = data.models.filter((m) => m.workers === 0);
  return (
    <section className="pool-panel" aria-label="Worker pool" data-testid="pool-panel">
      <h2 className="small">
        Worker pool <span className="muted">· {data.workers.length} worker{data.workers.length === 1 ? '' : 's'} · {data.jobsLastMinute} runs in the last minute</span>
      </h2>
      <ul className="pool-workers">
        {data.workers.map((w) => (
          <li key={w.id} data-testid="pool-worker" className="small">
            <span className="mono">{w.host}:{w.pid}</span> {w.stopping && <span className="muted">(stopping)</span>} · {w.models.map((m) => m.name).join(', ')} ·{' '}
            {w.current.length ? `running ${w.current.length}` : 'idle'} · {w.jobsLastMinute}/min · seen {timeAgo(w.seenAt)}
          </li>
        ))}
      </ul>
      {orphans.length > 0 && (
        <p className="field-error small" data-testid="pool-orphans">
          No worker has {orphans.map((m) => `${m.id} (${m.waiting} waiting)`).join(', ')}: start one with <span className="mono">precache-lens worker --model DIR</span>.
        </p>
      )}
    </section>
  );
}

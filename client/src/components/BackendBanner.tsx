// A banner while the server cannot do its work: the pool is unavailable (Redis unreachable; queued runs wait
// meanwhile) or the data directory is low on space (runs may fail); from /api/health, polled.
import { useQuery } from '@tanstack/react-query';

interface Health {
  ok: boolean;
  backend?: { kind: string; ok: boolean; message: string | null };
  disk?: { ok: boolean; message: string | null };
}

export function BackendBanner() {
  const { data } = useQuery({
    queryKey: ['health'],
    queryFn: async (): Promise<Health> => (await fetch('/api/health')).json() as Promise<Health>,
    refetchInterval: 5000,
  });
  const problems: { key: string; text: string }[] = [];
  if (data?.backend && !data.backend.ok) problems.push({ key: 'backend', text: data.backend.message ?? 'the analysis backend is unavailable' });
  if (data?.disk && !data.disk.ok) problems.push({ key: 'disk', text: data.disk.message ?? 'the data directory is low on space' });
  if (!problems.length) return null;
  return (
    <>
      {problems.map((p) => (
        <p key={p.key} className="field-error" role="alert" data-testid={`${p.key}-banner`}>
          {p.text}
        </p>
      ))}
    </>
  );
}

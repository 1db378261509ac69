// A banner while the server's backend cannot run work (pool mode: Redis unreachable); queued runs wait meanwhile.
import { useQuery } from '@tanstack/react-query';

interface Health {
  ok: boolean;
  backend?: { kind: string; ok: boolean; message: string | null };
}

export function BackendBanner() {
  const { data } = useQuery({
    queryKey: ['health'],
    queryFn: async (): Promise<Health> => (await fetch('/api/health')).json() as Promise<Health>,
    refetchInterval: 5000,
  });
  if (!data?.backend || data.backend.ok) return null;
  return (
    <p className="field-error" role="alert" data-testid="backend-banner">
      {data.backend.message ?? 'the analysis backend is unavailable'}
    </p>
  );
}

// The worker pool as the API reports it (GET /api/workers) and as a worker describes itself in Redis (its heartbeat).
export interface WorkerStatus {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  seenAt: string;
  models: { name: string; hash: string }[];
  concurrency: number;
  threads: number | null;
  current: { runId: string; modelHash: string; since: string }[];
  /** Jobs this worker finished in the last 60 s. */
  jobsLastMinute: number;
  jobsDone: number;
  /** SIGTERM received: finishing its current jobs, taking no new ones. */
  stopping: boolean;
}

export interface PoolModelStatus {
  id: string;
  hash: string;
  /** Workers that have this model byte for byte; 0 means its jobs wait until one starts. */
  workers: number;
  waiting: number;
  active: number;
}

export interface WorkersResponse {
  backend: 'in-process' | 'pool';
  redis: { url: string; reachable: boolean; error: string | null } | null;
  workers: WorkerStatus[];
  models: PoolModelStatus[];
  /** Runs finished by the pool in the last 60 s, all workers together. */
  jobsLastMinute: number;
}

/** GET /api/runs/:id/worker: the pool worker that computed a run (null: this server's own process, or not finished). */
export interface RunWorker {
  runId: string;
  worker: string | null;
  attempts: number | null;
  finishedAt: string | null;
}

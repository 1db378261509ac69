// `precache-lens worker`: a pool worker process; SIGTERM or SIGINT lets its current jobs finish, then it exits.
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DATA_DIR } from './main.js';
import { checkRedisUrl, redisUrlFromEnv } from './pool/config.js';
import { startPoolWorker } from './pool/pool-worker.js';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1`);
  return n;
};

export function addWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run analyses for a server in pool mode: take jobs from Redis for the models given (default: the bundled ones)')
    .option('--redis <url>', 'the pool\'s Redis, redis://[:password@]host:port or rediss:// for TLS (also: PRECACHE_LENS_REDIS)')
    .option('-m, --model <dir...>', 'model directories this worker has; it takes the jobs of exactly these graphs (sha256)')
    .option('--concurrency <n>', 'jobs run at once', positive('--concurrency'), 1)
    .option('--threads <n>', 'ONNX Runtime threads', positive('--threads'))
    .option('--data <dir>', 'directory for the rewritten-graph cache', DEFAULT_DATA_DIR)
    .action(async (o: { redis?: string; model?: string[]; concurrency: number; threads?: number; data: string }) => {
      const url = o.redis ? checkRedisUrl(o.redis) : redisUrlFromEnv();
      if (!url) throw new Error('--redis URL (or PRECACHE_LENS_REDIS) is required');
      const w = await startPoolWorker({
        redis: url,
        models: o.model ?? [],
        concurrency: o.concurrency,
        threads: o.threads,
        cacheDir: path.join(path.resolve(o.data), 'graph-cache'),
      });
      let signals = 0;
      const onSignal = (sig: string) => {
        if (++signals > 1) {
          console.log(`worker: ${sig} again, exiting now (the running job is retried elsewhere)`);
          process.exit(130);
        }
        console.log(`worker: ${sig}: finishing the current job, then exiting`);
        w.stop().then(
          () => process.exit(0),
          (e: Error) => {
            console.error(`worker: ${e.message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      // Runs until a signal: the BullMQ workers keep the process alive.
    });
}

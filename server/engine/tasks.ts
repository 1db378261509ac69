// Long jobs that run inside the engine worker (analyses), registered by name so the worker stays generic.
import type { HookedModel } from './hooked-model.js';
import type { ModelInfo } from './protocol.js';

export interface TaskContext {
  model(dir: string): HookedModel;
  info(dir: string): ModelInfo;
  progress(p: unknown): void;
  isCancelled(): boolean;
}

export type Task = (args: unknown, ctx: TaskContext) => Promise<unknown>;

const tasks = new Map<string, Task>();

export function registerTask(name: string, fn: Task): void {
  tasks.set(name, fn);
}

export async function runTask(name: string, args: unknown, ctx: TaskContext): Promise<unknown> {
  const t = tasks.get(name);
  if (!t) throw new Error(`unknown engine task "${name}"`);
  return t(args, ctx);
}

/** A task that just sleeps, cancellably: used by tests of cancellation and responsiveness. */
registerTask('sleep', async (args, ctx) => {
  const ms = Number((args as { ms?: number })?.ms ?? 100);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (ctx.isCancelled()) throw Object.assign(new Error('cancelled'), { name: 'CancelledError' });
    await new Promise((r) => setTimeout(r, 10));
  }
  return { slept: ms };
});

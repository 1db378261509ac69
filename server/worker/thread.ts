// Engine worker thread: owns the ONNX sessions so that runs never block the HTTP event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { HookedModel, type EngineOptions, type Tensor } from './hooked-model.js';
import type { ModelInfo, SerializedResult, WorkerReply, WorkerRequest } from './protocol.js';
import { runTask, type TaskContext } from './tasks.js';
import '../analysis/task.js';

const opts = (workerData ?? {}) as EngineOptions;
const models = new Map<string, HookedModel>();
const cancelled = new Set<number>();

function model(dir: string): HookedModel {
  let m = models.get(dir);
  if (!m) {
    m = HookedModel.load(dir, opts);
    models.set(dir, m);
  }
  return m;
}

function info(dir: string): ModelInfo {
  const m = model(dir);
  const s = m.analyze();
  const { raw: _raw, ...config } = m.config;
  return {
    dir: m.md.dir,
    name: m.md.name,
    graphPath: m.md.graphPath,
    modelHash: m.modelHash,
    config,
    attentionProblem: s.attentionProblem,
    layersFound: s.layers.length,
  };
}

function post(msg: WorkerReply, transfer: ArrayBuffer[] = []) {
  parentPort!.postMessage(msg, transfer);
}

async function handle(msg: WorkerRequest): Promise<void> {
  if (msg.op === 'cancel') {
    cancelled.add(msg.target);
    return;
  }
  try {
    if (msg.op === 'info') {
      post({ id: msg.id, ok: true, value: info(msg.model) });
    } else if (msg.op === 'run') {
      const r = await model(msg.model).run(msg.req);
      const value: SerializedResult = { logits: r.logits, cache: [...r.cache.entries()] };
      const tensors: Tensor[] = [...(r.logits ? [r.logits] : []), ...r.cache.values()];
      post({ id: msg.id, ok: true, value }, [...new Set(tensors.map((t) => t.data.buffer as ArrayBuffer))]);
    } else {
      const ctx: TaskContext = {
        model,
        info,
        progress: (p) => post({ id: msg.id, progress: p }),
        isCancelled: () => cancelled.has(msg.id),
      };
      const value = await runTask(msg.task, msg.args, ctx);
      post({ id: msg.id, ok: true, value });
    }
  } catch (e) {
    const err = e as Error;
    post({ id: msg.id, ok: false, error: { name: err.name || 'Error', message: err.message || String(e) } });
  } finally {
    cancelled.delete(msg.id);
  }
}

parentPort!.on('message', (msg: WorkerRequest) => {
  void handle(msg);
});

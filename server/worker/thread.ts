// The worker thread: owns the ONNX sessions so that runs never block the HTTP event loop, and runs the job table.
import { parentPort, workerData } from 'node:worker_threads';
import { HookedModel, type EngineOptions, type Tensor } from '../engine/hooked-model.js';
import { isRecurrentConfig, RecurrentModel } from '../engine/recurrent-model.js';
import { openModelDir } from '../model/model-dir.js';
import { InputError } from '../../shared/errors.js';
import { handlers, type JobContext } from './handlers.js';
import type { JobName } from './jobs.js';
import { serializeError, type JobRequest, type ModelInfo, type SerializedResult, type WorkerReply, type WorkerRequest } from './protocol.js';

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

const recurrentModels = new Map<string, RecurrentModel | null>();

/** The recurrent engine when the directory holds a recurrent model (config model_type), else null. */
function recurrent(dir: string): RecurrentModel | null {
  if (!recurrentModels.has(dir)) recurrentModels.set(dir, isRecurrentConfig(openModelDir(dir)) ? RecurrentModel.load(dir, opts) : null);
  return recurrentModels.get(dir)!;
}

function info(dir: string): ModelInfo {
  const r = recurrent(dir);
  if (r) {
    const { raw: _raw, ...config } = r.config;
    return { dir: r.md.dir, name: r.md.name, graphPath: r.md.graphPath, modelHash: r.modelHash, config, attentionProblem: null, layersFound: r.config.nLayer };
  }
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

function runJob(msg: JobRequest): Promise<unknown> {
  const ctx: JobContext<JobName> = {
    model,
    recurrent,
    progress: (p) => post({ id: msg.id, progress: p }),
    partial: (p) => post({ id: msg.id, partial: p }),
    isCancelled: () => cancelled.has(msg.id),
  };
  // The table's key and argument types are tied by JobRequest; TypeScript cannot follow that through a lookup.
  const h = handlers[msg.job] as (args: unknown, c: JobContext<JobName>) => Promise<unknown>;
  return h(msg.args, ctx);
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
      if (recurrent(msg.model)) throw new InputError('this is a recurrent model (RWKV): it has no attention patterns or transformer hooks to return here; its state hooks come with its analysis', 'model');
      const r = await model(msg.model).run(msg.req);
      const value: SerializedResult = { logits: r.logits, cache: [...r.cache.entries()] };
      const tensors: Tensor[] = [...(r.logits ? [r.logits] : []), ...r.cache.values()];
      post({ id: msg.id, ok: true, value }, [...new Set(tensors.map((t) => t.data.buffer as ArrayBuffer))]);
    } else {
      post({ id: msg.id, ok: true, value: await runJob(msg) });
    }
  } catch (e) {
    post({ id: msg.id, ok: false, error: serializeError(e) });
  } finally {
    cancelled.delete(msg.id);
  }
}

parentPort!.on('message', (msg: WorkerRequest) => {
  void handle(msg);
});

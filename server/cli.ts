// Command-line interface on the same core as the HTTP API: analyze, serve, models, hooks.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { AnalysisResult, HeadlineStage } from '../shared/analysis.js';
import { SPAN_MODES, type SpanMode } from '../shared/metrics/spans.js';
import { allHookNames, HOOK_SHAPES, parseHookName } from '../shared/hooks.js';
import { EngineClient } from './worker/engine-client.js';
import { HookedModel } from './engine/hooked-model.js';
import { isRecurrentConfig, recurrentHook } from './engine/recurrent-model.js';
import { openModelDir } from './model/model-dir.js';
import { DEFAULT_MODEL_DIR, ModelRegistry, modelsFromEnv } from './model/registry.js';
import { announce, DEFAULT_DATA_DIR, serve, serveOptionsFromEnv, stopOnSignals } from './main.js';
import type { AnalyzeJobArgs } from './worker/jobs.js';
import { addReportCommands } from './cli-report.js';
import { addExperimentCommand } from './cli-experiment.js';
import { addSearchCommand } from './cli-search.js';
import { addCompareModelsCommand } from './cli-compare-models.js';
import { addWorkerCommand } from './cli-worker.js';
import { addBackupCommands } from './cli-backup.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

function readText(file: string | undefined, text: string | undefined, what: string): string {
  if (file !== undefined && text !== undefined) throw new Error(`give --${what} or --${what}-file, not both`);
  if (file !== undefined) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      throw new Error(`--${what}-file: cannot read ${file}`);
    }
  }
  if (text !== undefined) return text;
  if (what === 'prompt') return '';
  throw new Error(`--${what} or --${what}-file is required`);
}

const fmt = (x: number | null, d = 4) => (x === null ? 'n/a' : x.toFixed(d));

/** The headline stage: losses, benefit, read shares (printed as soon as it is ready, before the knockouts). */
export function printHeadline(h: HeadlineStage, out: (s: string) => void = console.log) {
  const s = h.summary;
  out(`model ${h.model.name} (${h.model.nLayer} layers, ${h.model.nHead} heads)   prompt ${h.p} tokens, input ${h.n} tokens, BOS ${JSON.stringify(h.bos.text)} (${h.bos.source})`);
  out(`loss with prompt     ${fmt(s.meanLossWithPrompt)} nats/token`);
  out(`loss without prompt  ${fmt(s.meanLossNoPrompt)} nats/token (X at the same positions)`);
  out(`mean prompt benefit  ${fmt(s.meanBenefit)} nats/token (x_2..x_n: ${fmt(s.meanBenefitRead)})`);
  out('');
  if (h.model.architecture === 'rwkv') {
    // A recurrent model reads no attention: how much the prompt changed each layer's state instead.
    out('layer  state change at boundary  over the input   (recurrent model; D(k) below = state reset)');
    for (const l of h.layers) out(`${String(l.layer).padStart(5)}  ${fmt(l.state?.boundaryChange ?? 0, 3).padStart(24)}  ${fmt(l.state?.inputChange ?? 0, 3).padStart(14)}`);
    return;
  }
  out('layer  attn-read  norm-read  sink');
  for (const l of h.layers) out(`${String(l.layer).padStart(5)}  ${fmt(l.attention, 3).padStart(9)}  ${fmt(l.normWeighted, 3).padStart(9)}  ${fmt(l.sink, 3).padStart(5)}`);
}

/** The knockout stages and the totals: depth curve, pi, layer profile, span importance. */
export function printKnockouts(r: AnalysisResult, out: (s: string) => void = console.log) {
  const s = r.summary;
  out('');
  out(`loss without prompt, X at its natural positions 0..n: ${fmt(s.meanLossNoPromptNatural)} (benefit against it ${fmt(s.meanBenefitNatural)})`);
  out(`precomputation share pi = D(1)/D(0) = ${fmt(s.precomputationShare, 3)}   identity residual ${s.identityResidual.toExponential(1)}`);
  out('layer  D(k)     window-K');
  for (const l of r.layers) out(`${String(l.layer).padStart(5)}  ${fmt(r.depthCurve[l.layer]).padStart(7)}  ${fmt(r.layerProfile[l.layer].k).padStart(9)}`);
  if (r.spans.length) {
    out('');
    out(`span (${r.options.spans})`.padEnd(32) + 'K all layers   K layers>=1');
    for (const sp of r.spans.slice(0, 40)) {
      const label = `${sp.parent !== undefined ? '  ' : ''}${JSON.stringify(sp.label)}`.slice(0, 30);
      out(`${label.padEnd(32)}${fmt(sp.kAllLayers).padStart(12)}  ${fmt(sp.kFromLayer1).padStart(12)}`);
    }
    if (r.spans.length > 40) out(`... ${r.spans.length - 40} more spans in the JSON output`);
  }
  out('');
  out(`${r.variants.length} variants in ${r.timings.engineCalls} engine calls, ${(r.timings.totalMs / 1000).toFixed(2)} s`);
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('precache-lens').description('See which of a prompt\'s precomputed activations the input text reads.').showHelpAfterError();

  program
    .command('analyze')
    .description('analyze one prompt + input on a model and print (or save) every measurement')
    .option('-m, --model <dir>', 'model directory (Hugging Face layout)', DEFAULT_MODEL_DIR)
    .option('--prompt <text>', 'prompt text ({{name|text}} marks a span)')
    .option('--prompt-file <file>', 'read the prompt from a file')
    .option('--input <text>', 'input text')
    .option('--input-file <file>', 'read the input from a file')
    .addOption(new Option('--spans <mode>', 'how to cut the prompt into spans').choices([...SPAN_MODES]))
    .option('--layer-window <r>', 'layer-profile window radius', int('--layer-window'), 1)
    .option('--no-span-knockouts', 'skip span knockouts')
    .option('--json <file>', 'write the full result as JSON')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads'))
    .option('--max-batch-mb <mb>', 'memory bound per engine call (MiB)', int('--max-batch-mb'))
    .option('-q, --quiet', 'no progress bar or summary')
    .action(async (o) => {
      const prompt = readText(o.promptFile, o.prompt, 'prompt');
      const input = readText(o.inputFile, o.input, 'input');
      const engine = new EngineClient({ threads: o.threads, cacheDir: path.join(DEFAULT_DATA_DIR, 'graph-cache') });
      const registry = new ModelRegistry([o.model], false);
      const model = registry.list()[0];
      const bar = !o.quiet && process.stderr.isTTY ? new cliProgress.SingleBar({ format: ' {stage} [{bar}] {value}/{total} variants', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
      let started = false;
      const args: AnalyzeJobArgs = {
        modelDir: model.md.dir,
        modelId: model.id,
        prompt,
        input,
        options: { ...(o.spans ? { spans: o.spans as SpanMode } : {}), layerWindow: o.layerWindow, spanKnockouts: o.spanKnockouts },
        maxBatchMB: o.maxBatchMb,
      };
      try {
        const result = await engine.task('analyze', args, {
          onProgress: (pr) => {
            if (!bar) return;
            if (!started) {
              bar.start(pr.total, pr.done, { stage: pr.stage });
              started = true;
            } else {
              bar.setTotal(pr.total);
              bar.update(pr.done, { stage: pr.stage });
            }
          },
          // The headline is printed as soon as it is ready; the knockouts follow when the analysis ends.
          onPartial: (e) => {
            if (e.stage !== 'headline' || o.quiet) return;
            bar?.stop();
            printHeadline(e.data);
            started = false;
          },
        }).promise;
        bar?.stop();
        if (o.json) fs.writeFileSync(o.json, JSON.stringify(result, null, 1));
        if (!o.quiet) printKnockouts(result);
      } finally {
        bar?.stop();
        await engine.close();
      }
    });

  program
    .command('serve')
    .description('start the web workbench and HTTP API')
    .option('--host <addr>', 'address to listen on; anything but loopback exposes the server to your network', '127.0.0.1')
    .option('-p, --port <port>', 'port', int('--port'), 5177)
    .option('-m, --model <dir...>', 'extra model directories (also: PRECACHE_LENS_MODELS)')
    .option('--data <dir>', 'data directory for run history and graph cache', DEFAULT_DATA_DIR)
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads'))
    .option('--concurrency <n>', 'analyses run at once', int('--concurrency'))
    .option('--max-queue <n>', 'runs that may wait for a free slot before POST /api/runs answers 429 (also: PRECACHE_LENS_MAX_QUEUE; default 32)', int('--max-queue'))
    .option('--allowed-host <name...>', 'more host names clients may use to reach the server (also: PRECACHE_LENS_ALLOWED_HOSTS)')
    .option('--token <token>', 'access token to require (also: PRECACHE_LENS_TOKEN); default: generated when --host is not loopback')
    .option('--no-token', 'require no access token even beyond loopback (also: PRECACHE_LENS_NO_TOKEN=1)')
    .option('--session-cache-mb <mb>', 'memory kept in cached runtime sessions (also: PRECACHE_LENS_SESSION_CACHE_MB; default 1024)', int('--session-cache-mb'))
    .option('--graph-cache-mb <mb>', 'disk kept in rewritten graphs (also: PRECACHE_LENS_GRAPH_CACHE_MB; default 256)', int('--graph-cache-mb'))
    .option('--redis <url>', 'run analyses on a worker pool over this Redis (also: PRECACHE_LENS_REDIS); see `precache-lens worker`')
    .action(async (o) => {
      const env = serveOptionsFromEnv();
      // commander gives token === true when neither --token nor --no-token was given.
      const token = o.token === false ? false : typeof o.token === 'string' ? o.token : env.token;
      const { url, token: used, shutdown } = await serve({
        host: o.host,
        port: o.port,
        models: [...(o.model ?? []), ...modelsFromEnv()],
        dataDir: o.data,
        threads: o.threads,
        concurrency: o.concurrency,
        maxQueue: o.maxQueue,
        token,
        allowedHosts: [...(o.allowedHost ?? []), ...(env.allowedHosts ?? [])],
        sessionCacheMB: o.sessionCacheMb,
        graphCacheMB: o.graphCacheMb,
        ...(o.redis ? { redis: o.redis as string } : {}),
      });
      stopOnSignals(shutdown);
      announce(o.host, url, used);
    });

  program
    .command('models')
    .description('list the models the server would offer, with their config')
    .option('-m, --model <dir...>', 'extra model directories')
    .action((o) => {
      const reg = new ModelRegistry([...(o.model ?? []), ...modelsFromEnv()]);
      for (const m of reg.list()) {
        const c = m.md.config;
        console.log(`${m.id}\t${c.modelType}\t${c.nLayer} layers\t${c.nHead} heads\td=${c.dModel}\tctx ${c.nCtx}\tvocab ${c.vocabSize}\t${m.md.dir}`);
      }
    });

  program
    .command('hooks')
    .description("list a model's hook names and what graph surgery found")
    .option('-m, --model <dir>', 'model directory', DEFAULT_MODEL_DIR)
    .action((o) => {
      const md = openModelDir(o.model);
      if (isRecurrentConfig(md)) {
        const S = md.config.raw.state_size;
        console.log(`recurrent model (${md.config.modelType}), ${md.config.nLayer} layers, state size ${S} per layer`);
        for (let l = 0; l < md.config.nLayer; l++) {
          for (const k of ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post'] as const) console.log(`${recurrentHook(l, k).padEnd(34)} [B,T,d]`);
          console.log(`${recurrentHook(l, 'hook_state').padEnd(34)} [B,T,S] the state after each position`);
        }
        return;
      }
      const m = HookedModel.load(o.model);
      const s = m.analyze();
      if (s.attentionProblem) console.log(`attention hooks unavailable: ${s.attentionProblem}`);
      console.log(`${s.layers.length} layers found in ${s.file}`);
      for (const h of allHookNames(m.config.nLayer)) {
        const ref = parseHookName(h)!;
        console.log(`${h.padEnd(34)} ${HOOK_SHAPES[ref.kind]}`);
      }
    });
  addReportCommands(program);
  addExperimentCommand(program);
  addSearchCommand(program);
  addCompareModelsCommand(program);
  addWorkerCommand(program);
  addBackupCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    console.error(`precache-lens: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}

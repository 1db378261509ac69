// CLI commands for exports: `report` (offline, from analyze --json files), `batch` (prompts x inputs) and
// `activations` (raw tensors as safetensors); they call the same report functions as the HTTP API.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { AnalysisResult } from '../shared/analysis.js';
import { SPAN_MODES, type SpanMode } from '../shared/metrics/spans.js';
import { EngineClient } from './worker/engine-client.js';
import { openModelDir, type ModelDir } from './model/model-dir.js';
import { DEFAULT_MODEL_DIR } from './model/registry.js';
import { DEFAULT_DATA_DIR } from './main.js';
import { exportActivations, resolveHooks } from './report/activations.js';
import { readBlocksFile, runBatch, writeFileAtomic } from './report/batch.js';
import { buildComparisonReport, buildReport, OFFLINE_RUN, parseAnalysisResult, type RunMeta } from './report/build.js';
import { COMPARISON_TABLES, comparisonCsv, reportCsv, type ComparisonTable, type RunTable } from './report/csv.js';
import { renderComparisonHtml, renderReportHtml } from './report/html.js';
import { REPORT_SCHEMA_ID } from './report/schema.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

/**
 * Reads a result file: what `analyze --json` writes, a run from `GET /api/runs/:id` (its `result`), or a report
 * JSON (its `metrics`). The latter two also carry the run's id and label.
 */
export function readResultFile(file: string): { result: AnalysisResult; meta: RunMeta } {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--run: cannot read ${file} as JSON (${(e as Error).message})`);
  }
  const v = value as Record<string, unknown>;
  if (v && typeof v === 'object' && v.schema === REPORT_SCHEMA_ID) {
    const run = v.run as RunMeta;
    return { result: parseAnalysisResult(v.metrics, `--run ${file}`), meta: { ...OFFLINE_RUN, ...pickMeta(run) } };
  }
  if (v && typeof v === 'object' && 'result' in v && 'id' in v) {
    return { result: parseAnalysisResult(v.result, `--run ${file}`), meta: { ...OFFLINE_RUN, ...pickMeta(v as unknown as RunMeta) } };
  }
  return { result: parseAnalysisResult(value, `--run ${file}`), meta: OFFLINE_RUN };
}

function pickMeta(r: Partial<RunMeta>): Partial<RunMeta> {
  const out: Partial<RunMeta> = {};
  for (const k of ['id', 'label', 'parentId', 'createdAt', 'finishedAt'] as const) if (typeof r[k] === 'string') out[k] = r[k];
  return out;
}

/** The model directory, if given and it holds the graph the result was computed with (checked by sha256). */
function matchingModelDir(dir: string | undefined, result: AnalysisResult): ModelDir | null {
  if (!dir) return null;
  const md = openModelDir(dir);
  const hash = crypto.createHash('sha256').update(fs.readFileSync(md.graphPath)).digest('hex');
  if (hash !== result.model.hash) {
    console.warn(`warning: --model ${dir}: its graph (sha256 ${hash.slice(0, 12)}) is not the one the result used (${result.model.hash.slice(0, 12)}); the report describes the model from the result alone`);
    return null;
  }
  return md;
}

function output(out: string | undefined, data: string | Buffer) {
  if (out) writeFileAtomic(out, data);
  else process.stdout.write(data);
}

function progressBar(quiet: boolean, format: string) {
  return !quiet && process.stderr.isTTY ? new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
}

export function addReportCommands(program: Command): void {
  program
    .command('report')
    .description('write a report (JSON, self-contained HTML or CSV) from saved results; two or more --run files make a comparison')
    .requiredOption('--run <files...>', 'result JSON written by analyze --json (or a run from GET /api/runs/:id, or a report JSON)')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'html', 'csv']).default('html'))
    .addOption(new Option('--table <table>', 'CSV table (summary is for comparisons)').choices([...COMPARISON_TABLES]).default('tokens'))
    .option('-m, --model <dir>', 'model directory, to add its config.json and tokenizer to the report (checked against the result\'s graph hash)')
    .option('-o, --out <file>', 'output file (default: standard output)')
    .action((o: { run: string[]; format: 'json' | 'html' | 'csv'; table: ComparisonTable; model?: string; out?: string }) => {
      const items = o.run.map((f) => readResultFile(f));
      const md = matchingModelDir(o.model, items[0].result);
      if (items.length === 1) {
        const rep = buildReport(items[0].result, items[0].meta, md);
        if (o.format === 'csv' && o.table === 'summary') throw new Error('--table summary is for comparisons (give two or more --run files); one run has tokens, layers, heads, spans');
        output(o.out, o.format === 'json' ? `${JSON.stringify(rep, null, 1)}\n` : o.format === 'html' ? renderReportHtml(rep) : reportCsv(rep, o.table as RunTable));
      } else {
        let rep;
        try {
          rep = buildComparisonReport(items, md);
        } catch (e) {
          throw new Error(`--run: ${(e as Error).message.replace(/^ids\.(\d+)/, (_, k: string) => `file ${Number(k) + 1} (${o.run[Number(k)]})`)}`);
        }
        output(o.out, o.format === 'json' ? `${JSON.stringify(rep, null, 1)}\n` : o.format === 'html' ? renderComparisonHtml(rep) : comparisonCsv(rep, o.table));
      }
      if (o.out) console.error(`wrote ${o.out}`);
    });

  program
    .command('batch')
    .description('analyze every prompt x every input; saves each result as it finishes (rerun to resume) and writes comparison reports')
    .option('-m, --model <dir>', 'model directory (Hugging Face layout)', DEFAULT_MODEL_DIR)
    .requiredOption('--prompts <file>', 'prompts, separated by lines containing only ---')
    .requiredOption('--inputs <file>', 'input texts, separated by lines containing only ---')
    .requiredOption('-o, --out <dir>', 'output directory: runs/<prompt>-<input>.json, comparison.html/.json/.csv')
    .addOption(new Option('--spans <mode>', 'how to cut each prompt into spans').choices([...SPAN_MODES]))
    .option('--layer-window <r>', 'layer-profile window radius', int('--layer-window'))
    .option('--no-span-knockouts', 'skip span knockouts')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads'))
    .option('--max-batch-mb <mb>', 'memory bound per engine call (MiB)', int('--max-batch-mb'))
    .option('-q, --quiet', 'no progress output')
    .action(async (o) => {
      const prompts = readBlocksFile(o.prompts, '--prompts');
      const inputs = readBlocksFile(o.inputs, '--inputs');
      const md = openModelDir(o.model);
      const engine = new EngineClient({ threads: o.threads, cacheDir: path.join(DEFAULT_DATA_DIR, 'graph-cache') });
      const bar = progressBar(!!o.quiet, ' batch [{bar}] {value}/{total} pairs | {pair} {stage}');
      const log = (s: string) => {
        if (!o.quiet && !bar) console.error(s);
      };
      try {
        const info = await engine.info(md.dir);
        if (info.attentionProblem) throw new Error(`--model: ${info.attentionProblem}`);
        bar?.start(prompts.length * inputs.length, 0, { pair: '', stage: '' });
        const outcome = await runBatch({
          engine,
          md,
          modelId: md.name,
          modelHash: info.modelHash,
          prompts,
          inputs,
          outDir: o.out,
          options: {
            ...(o.spans ? { spans: o.spans as SpanMode } : {}),
            ...(o.layerWindow !== undefined ? { layerWindow: o.layerWindow as number } : {}),
            ...(o.spanKnockouts === false ? { spanKnockouts: false } : {}),
          },
          maxBatchMB: o.maxBatchMb,
          onPair: (e) => {
            const pair = `P${e.p + 1} x I${e.i + 1}`;
            if (e.state === 'cached') {
              bar?.update(e.index + 1, { pair, stage: 'saved earlier' });
              log(`${pair}: saved earlier, skipped`);
            } else if (e.state === 'done') {
              bar?.update(e.index + 1, { pair, stage: 'done' });
              log(`${pair}: done`);
            } else if (e.progress) bar?.update(e.index, { pair, stage: `${e.progress.stage} ${e.progress.done}/${e.progress.total}` });
            else if (e.state === 'stale') log(`${pair}: saved result is for other texts, model or options; recomputing`);
          },
        });
        bar?.stop();
        if (!o.quiet) {
          console.error(`${outcome.computed} pairs computed, ${outcome.reused} reused from ${path.join(o.out, 'runs')}`);
          for (const f of outcome.files) console.error(`wrote ${f}`);
        }
      } finally {
        bar?.stop();
        await engine.close();
      }
    });

  program
    .command('activations')
    .description('rerun a saved result\'s with-prompt forward and write the chosen hooks as one safetensors file')
    .requiredOption('--run <file>', 'result JSON written by analyze --json (or a run or report JSON)')
    .option('-m, --model <dir>', 'model directory the result was computed with', DEFAULT_MODEL_DIR)
    .requiredOption('--hooks <names...>', 'hook names or globs, e.g. "blocks.*.hook_resid_pre" "blocks.*.attn.hook_pattern" (or * for all)')
    .requiredOption('-o, --out <file>', 'output .safetensors file')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads'))
    .action(async (o: { run: string; model: string; hooks: string[]; out: string; threads?: number }) => {
      const { result, meta } = readResultFile(o.run);
      const md = openModelDir(o.model);
      const hooks = resolveHooks(o.hooks.flatMap((h) => h.split(',')).filter(Boolean), result.model.nLayer);
      const engine = new EngineClient({ threads: o.threads, cacheDir: path.join(DEFAULT_DATA_DIR, 'graph-cache') });
      try {
        const info = await engine.info(md.dir);
        if (info.modelHash !== result.model.hash) throw new Error(`--model: ${md.dir} is not the graph the result used (sha256 ${info.modelHash.slice(0, 12)}, result ${result.model.hash.slice(0, 12)})`);
        const { chunks, totalBytes } = await exportActivations(engine, md.dir, result, hooks, { runId: meta.id, dHead: md.config.dHead });
        writeFileAtomic(o.out, Buffer.concat(chunks));
        console.error(`wrote ${o.out}: ${hooks.length} tensors, ${(totalBytes / 2 ** 20).toFixed(1)} MiB`);
      } finally {
        await engine.close();
      }
    });
}

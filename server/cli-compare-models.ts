// CLI: `precache-lens compare-models A B --prompt ... --input ...`: one analysis on two exports, and how far each metric moved.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SPAN_MODES, type SpanMode } from '../shared/metrics/spans.js';
import { formatModelDiff } from '../shared/model-diff.js';
import { compareModels } from './compare/compare-models.js';
import { DEFAULT_DATA_DIR } from './main.js';
import { ModelRegistry } from './model/registry.js';
import { EngineClient } from './worker/engine-client.js';

function text(file: string | undefined, value: string | undefined, what: string, required: boolean): string {
  if (file !== undefined && value !== undefined) throw new InvalidArgumentError(`give --${what} or --${what}-file, not both`);
  if (file !== undefined) {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      throw new InvalidArgumentError(`--${what}-file: cannot read ${file}`);
    }
  }
  if (value !== undefined) return value;
  if (required) throw new InvalidArgumentError(`--${what} or --${what}-file is required`);
  return '';
}

export function addCompareModelsCommand(program: Command): void {
  program
    .command('compare-models')
    .description('run one analysis on two models (e.g. a q8 and an fp32 export of one model) and report how far each metric moved')
    .argument('<a>', 'model A: a model directory or an ONNX graph file (e.g. onnx/model.onnx)')
    .argument('<b>', 'model B: a model directory or an ONNX graph file (e.g. onnx/model_quantized.onnx)')
    .option('--prompt <text>', 'prompt text ({{name|text}} marks a span)')
    .option('--prompt-file <file>', 'read the prompt from a file')
    .option('--input <text>', 'input text')
    .option('--input-file <file>', 'read the input from a file')
    .addOption(new Option('--spans <mode>', 'how to cut the prompt into spans').choices([...SPAN_MODES]))
    .option('--no-span-knockouts', 'skip span knockouts')
    .option('--json <file>', 'write {a, b, diff} (both full results and the diff) as JSON')
    .option('--threads <n>', 'ONNX Runtime threads', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--threads must be a positive integer');
      return n;
    })
    .option('-q, --quiet', 'no table on stdout')
    .action(async (a: string, b: string, o) => {
      const prompt = text(o.promptFile, o.prompt, 'prompt', false);
      const input = text(o.inputFile, o.input, 'input', true);
      const registry = new ModelRegistry([a, b], false);
      const models = registry.list();
      if (models.length !== 2) throw new InvalidArgumentError(`<a> and <b> are the same graph (${models[0]?.md.graphPath}); compare two different exports`);
      const engine = new EngineClient({ threads: o.threads, cacheDir: path.join(DEFAULT_DATA_DIR, 'graph-cache') });
      try {
        const r = await compareModels(engine, [models[0], models[1]], {
          prompt,
          input,
          options: { ...(o.spans ? { spans: o.spans as SpanMode } : {}), spanKnockouts: o.spanKnockouts },
        }, (k) => {
          if (!o.quiet) process.stderr.write(`analyzing on ${models[k].md.graphPath} ...\n`);
        });
        if (o.json) fs.writeFileSync(o.json, JSON.stringify(r, null, 1));
        if (!o.quiet) for (const line of formatModelDiff(r.diff)) console.log(line);
      } finally {
        await engine.close();
      }
    });
}

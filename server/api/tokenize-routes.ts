// POST /api/tokenize: how many tokens texts make on a model, for the editor's live count (cheap, but it runs the
// tokenizer in the worker, hence a POST like every other request that computes).
import { Router } from 'express';
import { TokenCountSchema, type TokenCount } from '../../shared/token-count.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { ModelRegistry } from '../model/registry.js';
import { HttpError } from '../http-error.js';
import { parse, wrap } from './http.js';

export interface TokenizeDeps {
  engine: EngineClient;
  registry: ModelRegistry;
}

export function tokenizeRouter(d: TokenizeDeps): Router {
  const r = Router();
  r.post(
    '/tokenize',
    wrap(async (req, res) => {
      const body = parse(TokenCountSchema, req.body ?? {});
      const modelId = body.model ?? d.registry.defaultId();
      const model = modelId ? d.registry.get(modelId) : undefined;
      if (!model) throw new HttpError(422, `model: unknown model "${modelId}"`, 'model');
      const info = await d.engine.info(model.md.dir);
      const counted = await Promise.all(body.texts.map((text) => d.engine.task('tokenize', { modelDir: model.md.dir, text }).promise));
      const answer: TokenCount = { model: model.id, counts: counted.map((t) => t.ids.length), nCtx: info.config.nCtx };
      res.json(answer);
    }),
  );
  return r;
}

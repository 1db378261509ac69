// Where a search's racing cells and continuations run, as named backends (like server/runs/backend.ts for analyses):
// this process's engine thread, or the worker pool (server/search/pool-race-backend.ts).
import type { RegisteredModel } from '../model/registry.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { ContinuationArgs, ContinuationResult, RaceCellsArgs, RaceCellsResult } from './race-cells.js';

export interface StartedJob<T> {
  promise: Promise<T>;
  cancel: () => void;
}

export interface RaceBackend {
  race(model: RegisteredModel, args: RaceCellsArgs): StartedJob<RaceCellsResult>;
  continuations(model: RegisteredModel, args: ContinuationArgs): StartedJob<ContinuationResult>;
}

export class InProcessRaceBackend implements RaceBackend {
  constructor(private readonly engine: EngineClient) {}

  race(model: RegisteredModel, args: RaceCellsArgs): StartedJob<RaceCellsResult> {
    return this.engine.task('race', { ...args, modelDir: model.md.dir });
  }

  continuations(model: RegisteredModel, args: ContinuationArgs): StartedJob<ContinuationResult> {
    return this.engine.task('continuations', { ...args, modelDir: model.md.dir });
  }
}

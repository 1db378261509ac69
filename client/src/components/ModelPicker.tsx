// Picks the model a run uses and lists its facts (architecture, context, graph file, hash).
import { useChosenModel, useModels } from '../data/api';
import { useWorkbench } from '../state/store';
import { FieldError } from './FieldError';

export function ModelPicker() {
  const { data, error, isLoading } = useModels();
  const editDraft = useWorkbench((s) => s.editDraft);
  const fieldError = useWorkbench((s) => s.fieldErrors.model);
  const models = data?.models ?? [];
  const { chosen } = useChosenModel();

  return (
    <div className="field" data-testid="model-picker">
      <label htmlFor="model">Model</label>
      {isLoading && <p className="muted">loading models…</p>}
      {error && <p className="field-error">could not load models: {(error as Error).message}</p>}
      {models.length > 0 && (
        <select id="model" value={chosen?.id ?? ''} onChange={(e) => editDraft({ model: e.target.value })}>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
              {m.bundled ? ' (bundled)' : ''}
            </option>
          ))}
        </select>
      )}
      {chosen && (
        <dl className="model-facts" data-testid="model-facts">
          <div>
            <dt>type</dt>
            <dd>{chosen.config.modelType}</dd>
          </div>
          <div>
            <dt>layers × heads</dt>
            <dd>
              {chosen.config.nLayer} × {chosen.config.nHead}
              {chosen.config.nKvHead !== chosen.config.nHead ? ` (${chosen.config.nKvHead} kv)` : ''}
            </dd>
          </div>
          <div>
            <dt>d_model / d_head</dt>
            <dd>
              {chosen.config.dModel} / {chosen.config.dHead}
            </dd>
          </div>
          <div>
            <dt>context</dt>
            <dd>{chosen.config.nCtx} tokens</dd>
          </div>
          <div>
            <dt>vocab</dt>
            <dd>{chosen.config.vocabSize.toLocaleString('en-US')}</dd>
          </div>
          <div>
            <dt>graph</dt>
            <dd className="mono" title={`${chosen.dir}/${chosen.graph}`}>
              {chosen.graph}
            </dd>
          </div>
          <div>
            <dt>hash</dt>
            <dd className="mono" title={chosen.modelHash}>
              {chosen.modelHash.slice(0, 12)}
            </dd>
          </div>
        </dl>
      )}
      {chosen?.attentionProblem && <p className="field-error">{chosen.attentionProblem}</p>}
      <FieldError field="model" message={fieldError} />
    </div>
  );
}

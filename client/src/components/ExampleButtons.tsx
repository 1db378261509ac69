// One-click examples on the start page: the recipe on the default model, and the children's story on the bundled
// stories260K as a run or as an experiment over the story's input set (shown only when the server offers the model).
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '@shared/api.js';
import { useModels } from '../data/api';
import { experimentKeys, experimentsApi } from '../data/experiments';
import { EXAMPLE_DRAFT, useWorkbench } from '../state/store';
import { STORY_EXAMPLE, STORY_EXPERIMENT, STORY_MODEL } from '../state/examples';
import { startRun } from '../state/useRunAction';

export function useStoryModelOffered(): boolean {
  return (useModels().data?.models ?? []).some((m) => m.id === STORY_MODEL);
}

/** Starts the story experiment and opens it; its error (e.g. the set missing on this server) shows beside the button. */
export function StoryExperimentButton({ testId = 'example-story-experiment' }: { testId?: string }) {
  const qc = useQueryClient();
  const open = useWorkbench((s) => s.openExperiments);
  const editDraft = useWorkbench((s) => s.editDraft);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      editDraft({ model: STORY_MODEL });
      const { id } = await experimentsApi.create(STORY_EXPERIMENT);
      await qc.invalidateQueries({ queryKey: experimentKeys.list });
      open(id);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="btn" disabled={busy} onClick={() => void start()} data-testid={testId}>
        Story experiment: 3 prompts × 10 passages
      </button>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}

export function ExampleButtons() {
  const editDraft = useWorkbench((s) => s.editDraft);
  const story = useStoryModelOffered();
  const run = (draft: Partial<typeof EXAMPLE_DRAFT>) => {
    editDraft({ ...draft, parentId: null });
    void startRun();
  };
  return (
    <div className="examples" data-testid="examples">
      <h3>Try an example</h3>
      <div className="examples-row">
        <button type="button" className="btn" onClick={() => run(EXAMPLE_DRAFT)} data-testid="example-recipe">
          Recipe, on the default model
        </button>
        {story && (
          <button type="button" className="btn primary" onClick={() => run(STORY_EXAMPLE)} data-testid="example-story">
            Children&rsquo;s story, on stories260K
          </button>
        )}
      </div>
      {story && (
        <>
          <p className="muted small">
            stories260K is a real pretrained Llama (llama2.c, trained on children&rsquo;s stories): a prompt that sets up the story lowers the loss of
            text that goes on with it. It reads children&rsquo;s-story English only.
          </p>
          <div className="examples-row">
            <StoryExperimentButton />
          </div>
        </>
      )}
    </div>
  );
}

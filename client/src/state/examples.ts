// The one-click examples the start page offers: today's recipe on the default model, and a children's story on the
// bundled stories260K (a real pretrained Llama whose prompts visibly matter), as a run and as an experiment.
import type { CreateExperimentRequest } from '@shared/experiments.js';
import type { Draft } from './store';

export const STORY_MODEL = 'precache-stories-260k';

/** A prompt with marked spans (name, toy) and an input that uses both. */
export const STORY_EXAMPLE: Pick<Draft, 'model' | 'prompt' | 'input' | 'label'> = {
  model: STORY_MODEL,
  prompt: 'Once upon a time, there was a little girl named {{name|Lily}}. She had a {{toy|big red ball}}.',
  input: 'Lily loved to play with her ball in the park.',
  label: 'story example',
};

/** The story prompt against one about another child and an unrelated one, on ten passages that go on with the story. */
export const STORY_EXPERIMENT: CreateExperimentRequest = {
  model: STORY_MODEL,
  label: 'story example: matching vs other prompts',
  prompts: [
    { label: 'the story', text: STORY_EXAMPLE.prompt },
    { label: 'another child', text: 'Once upon a time, there was a little boy named {{name|Tim}}. He had a {{toy|small blue kite}}.' },
    { label: 'stock market', text: 'The stock market fell sharply today as investors sold their shares.' },
  ],
  inputs: { set: 'stories-lily-ball', count: 10, seed: 1 },
  options: { spanKnockouts: false, resamples: 2000 },
};

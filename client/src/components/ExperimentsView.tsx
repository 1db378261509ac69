// The experiments page: the builder and the experiment history, or one experiment's results (#/experiments[/<id>]).
import { ExperimentBuilder } from './ExperimentBuilder';
import { ExperimentHistory } from './ExperimentHistory';
import { ExperimentResults } from './ExperimentResults';
import './ExperimentViews.css';

export function ExperimentsView({ id }: { id: string | null }) {
  if (id) return <ExperimentResults id={id} />;
  return (
    <div className="experiments" data-testid="experiments-page">
      <h2>Experiments</h2>
      <p className="muted">
        A prompt is judged over the inputs it will meet, not on one. Run prompts over many inputs and read each prompt&rsquo;s mean benefit and π
        with 95% confidence intervals, and paired tests between prompts. Every cell is an ordinary run.
      </p>
      <ExperimentBuilder />
      <ExperimentHistory />
    </div>
  );
}

// The numbers a run is read by: loss with and without the prompt, the benefit over all of X and over x₂..xₙ (= D(0)),
// and the precomputation share π, with a warning wherever π cannot be read as a share.
import type { DepthStage, HeadlineStage } from '@shared/analysis.js';
import { piVerdict } from '@shared/format.js';
import { nats, pct, sci, signedNats } from '../format';
import { HELP } from '../metricHelp';
import { InfoTip } from './InfoTip';

interface Props {
  summary: HeadlineStage['summary'];
  /** Absent while the knockouts behind D(k) and π are still running (or when the run ended before them). */
  depth?: DepthStage;
  /** Whether the run is still going: a missing depth stage is then on its way, else it will never come. */
  live?: boolean;
}

function Stat({ label, value, unit, help, testId, tone, pending }: { label: string; value: string; unit: string; help: string; testId: string; tone?: 'good' | 'bad' | 'warn'; pending?: boolean }) {
  return (
    <div className={`stat ${tone ?? ''} ${pending ? 'pending' : ''}`} data-testid={testId}>
      <div className="stat-label">
        {label}
        <InfoTip text={help} />
      </div>
      <div className="stat-value">
        <span>{value}</span>
        <span className="stat-unit">{unit}</span>
      </div>
    </div>
  );
}

export function HeadlineNumbers({ summary: s, depth, live = true }: Props) {
  const d0 = depth?.depthCurve[0];
  const verdict = depth ? piVerdict(d0, depth.precomputationShare) : null;
  return (
    <div className="headline" data-testid="headline-numbers">
      <Stat label="Loss with prompt" value={nats(s.meanLossWithPrompt)} unit="nats/token" help={HELP.lossWithPrompt} testId="stat-loss-with" />
      <Stat label="Loss without prompt" value={nats(s.meanLossNoPrompt)} unit="nats/token" help={HELP.lossNoPrompt} testId="stat-loss-without" />
      <Stat label="Benefit B, all of X" value={signedNats(s.meanBenefit)} unit="nats/token" help={HELP.meanBenefit} testId="stat-benefit" tone={s.meanBenefit >= 0 ? 'good' : 'bad'} />
      <Stat label="Benefit over x₂..xₙ = D(0)" value={signedNats(s.meanBenefitRead)} unit="nats/token" help={HELP.benefitRead} testId="stat-benefit-read" tone={s.meanBenefitRead >= 0 ? 'good' : 'bad'} />
      <Stat
        label="Precomputation share π"
        value={depth ? pct(depth.precomputationShare) : live ? '…' : '—'}
        unit={depth ? 'of D(0)' : live ? 'computing' : 'not computed'}
        help={HELP.precomputationShare}
        testId="stat-pi"
        tone={verdict && !verdict.ok ? 'warn' : undefined}
        pending={!depth}
      />
      {verdict && !verdict.ok && (
        <p className="pi-warning" role="note" data-testid="pi-warning">
          <b>π is no share here.</b> {verdict.reason}
        </p>
      )}
      <details className="headline-details" data-testid="headline-details">
        <summary className="muted small">Details: how B relates to D(0), the natural-position reference, rollout share, identity residual</summary>
        <p className="headline-foot muted">
          <span>
            B differs from D(0) by x₁ alone: x₁ is predicted at the prompt&rsquo;s last column, which no knockout reaches
            <InfoTip text={HELP.depthCurve} />
          </span>
          <span>
            · vs natural no-prompt positions: B = {depth?.natural ? `${signedNats(depth.natural.meanBenefit)} nats` : live ? '…' : 'not computed'}
            <InfoTip text={HELP.benefitNatural} />
          </span>
          <span data-testid="stat-rollout">
            · attention rollout share {pct(s.attentionRolloutShare)}
            <InfoTip text={HELP.rollout} />
          </span>
          {depth && (
            <span>
              · knockout identity residual {sci(depth.identityResidual)} nats
              <InfoTip text={HELP.identityResidual} />
            </span>
          )}
        </p>
      </details>
    </div>
  );
}

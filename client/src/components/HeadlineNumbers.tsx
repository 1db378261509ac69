// The four numbers a run is read by: loss with and without the prompt, mean benefit, precomputation share pi.
import type { AnalysisResult } from '@shared/analysis.js';
import { nats, pct, signedNats } from '../format';
import { HELP } from '../metricHelp';
import { InfoTip } from './InfoTip';

interface Props {
  summary: AnalysisResult['summary'];
}

function Stat({ label, value, unit, help, testId, tone }: { label: string; value: string; unit: string; help: string; testId: string; tone?: 'good' | 'bad' }) {
  return (
    <div className={`stat ${tone ?? ''}`} data-testid={testId}>
      <div className="stat-label">
        {label}
        <InfoTip text={help} />
      </div>
      <div className="stat-value">
        {value}
        <span className="stat-unit">{unit}</span>
      </div>
    </div>
  );
}

export function HeadlineNumbers({ summary: s }: Props) {
  return (
    <div className="headline" data-testid="headline-numbers">
      <Stat label="Loss with prompt" value={nats(s.meanLossWithPrompt)} unit="nats/token" help={HELP.lossWithPrompt} testId="stat-loss-with" />
      <Stat label="Loss without prompt" value={nats(s.meanLossNoPrompt)} unit="nats/token" help={HELP.lossNoPrompt} testId="stat-loss-without" />
      <Stat
        label="Mean prompt benefit B"
        value={signedNats(s.meanBenefit)}
        unit="nats"
        help={HELP.meanBenefit}
        testId="stat-benefit"
        tone={s.meanBenefit >= 0 ? 'good' : 'bad'}
      />
      <Stat label="Precomputation share π" value={pct(s.precomputationShare)} unit="of D(0)" help={HELP.precomputationShare} testId="stat-pi" />
      <p className="headline-foot muted">
        vs natural no-prompt positions: B = {signedNats(s.meanBenefitNatural)} nats
        <InfoTip text={HELP.benefitNatural} /> · over x₂..xₙ (= D(0)): B = {signedNats(s.meanBenefitRead)} nats
        <InfoTip text={HELP.depthCurve} /> · knockout identity residual {s.identityResidual.toExponential(1)} nats
        <InfoTip text={HELP.identityResidual} />
      </p>
    </div>
  );
}

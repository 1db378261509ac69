// The input text, each token coloured by its prompt benefit; hover or focus shows losses and top predictions.
import { useMemo, useState } from 'react';
import type { HeadlineInputToken, InputTokenResult, NaturalReference } from '@shared/analysis.js';
import { nats, pct, showToken, signedNats } from '../format';
import { benefitColor, benefitTextColor, isClipped, robustScale } from '../theme';

interface Props {
  tokens: HeadlineInputToken[];
  /** The natural-position reference run (with the depth stage); absent until it arrives. */
  natural?: NaturalReference;
  /** Whether the run is still going (a missing reference is then on its way). */
  live?: boolean;
}

function TopList({ title, items }: { title: string; items: InputTokenResult['topWithPrompt'] }) {
  return (
    <div>
      <div className="tip-sub">{title}</div>
      <ol className="top-list">
        {items.map((t) => (
          <li key={t.id}>
            <code>{showToken(t.text)}</code>
            <span className="muted">{pct(t.prob)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function TokenBenefitText({ tokens, natural, live = true }: Props) {
  const [hover, setHover] = useState<number | null>(null);
  // The 95th percentile of |B_t|: one extreme token (often x₁) saturates instead of washing out the rest.
  const scale = useMemo(() => robustScale(tokens.map((t) => t.benefit)), [tokens]);
  const clipped = tokens.filter((x) => isClipped(x.benefit, scale)).length;
  const t = hover === null ? null : tokens[hover];

  return (
    <div className="token-text-wrap">
      <p className="token-text" data-testid="token-benefit-text" onMouseLeave={() => setHover(null)}>
        {tokens.map((tok, k) => (
          <span
            key={k}
            className={`tok ${hover === k ? 'hovered' : ''} ${isClipped(tok.benefit, scale) ? 'clipped' : ''}`}
            tabIndex={0}
            data-benefit={tok.benefit.toFixed(4)}
            data-clipped={isClipped(tok.benefit, scale) || undefined}
            style={{ backgroundColor: benefitColor(tok.benefit, scale), color: benefitTextColor(tok.benefit, scale) }}
            onMouseEnter={() => setHover(k)}
            onFocus={() => setHover(k)}
            onBlur={() => setHover(null)}
            aria-label={`${tok.text}: benefit ${signedNats(tok.benefit)} nats`}
          >
            {tok.text}
          </span>
        ))}
      </p>
      <div className="token-legend">
        <span className="muted">prompt raises loss</span>
        <span className="legend-ramp" style={{ background: `linear-gradient(90deg, ${benefitColor(-scale, scale)}, #fff, ${benefitColor(scale, scale)})` }} />
        <span className="muted">
          prompt lowers loss · ±{scale.toFixed(2)} nats (95th percentile of |B_t|)
          {clipped > 0 && (
            <span data-testid="clipped-note">
              {' '}
              · <span className="tok clipped legend-clipped">▲</span> {clipped} token{clipped === 1 ? '' : 's'} beyond, drawn at full colour
            </span>
          )}
        </span>
      </div>
      <div className="token-tip" data-testid="token-tip" aria-live="polite">
        {t ? (
          <>
            <div className="tip-head">
              <code className="tip-token">{showToken(t.text)}</code>
              <span className="muted">position {t.position}</span>
            </div>
            <table className="tip-table">
              <tbody>
                <tr>
                  <th>loss with prompt</th>
                  <td>{nats(t.lossWithPrompt)} nats</td>
                </tr>
                <tr>
                  <th>loss without prompt</th>
                  <td>{nats(t.lossNoPrompt)} nats</td>
                </tr>
                <tr>
                  <th>benefit B_t</th>
                  <td>
                    <strong>{signedNats(t.benefit)} nats</strong>
                  </td>
                </tr>
                <tr>
                  <th className="muted">without prompt, natural positions</th>
                  <td className="muted">{natural && hover !== null ? `${nats(natural.lossNoPrompt[hover])} nats` : live ? '…' : 'not computed'}</td>
                </tr>
              </tbody>
            </table>
            <div className="tip-tops">
              <TopList title="top predictions with prompt" items={t.topWithPrompt} />
              <TopList title="without prompt" items={t.topNoPrompt} />
            </div>
          </>
        ) : (
          <p className="muted">Hover a token for its loss with and without the prompt and the model&rsquo;s top predictions for it.</p>
        )}
      </div>
    </div>
  );
}

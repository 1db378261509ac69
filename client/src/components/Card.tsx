// A titled panel of the results dashboard, with the metric's explanation beside its title.
import type { ReactNode } from 'react';
import { InfoTip } from './InfoTip';

interface Props {
  title: ReactNode;
  help?: string;
  subtitle?: ReactNode;
  actions?: ReactNode;
  className?: string;
  testId?: string;
  children: ReactNode;
}

export function Card({ title, help, subtitle, actions, className, testId, children }: Props) {
  return (
    <section className={`card ${className ?? ''}`} data-testid={testId}>
      <header className="card-head">
        <h3>
          {title}
          {help && <InfoTip text={help} />}
        </h3>
        {actions && <div className="card-actions">{actions}</div>}
      </header>
      {subtitle && <p className="card-sub">{subtitle}</p>}
      {children}
    </section>
  );
}

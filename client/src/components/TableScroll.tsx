// A table's own horizontal scroll box: on a narrow screen the table scrolls inside it, not the page; it is focusable
// and named so keyboard users can scroll it too.
import type { ReactNode } from 'react';

export function TableScroll({ label, children, className }: { label: string; children: ReactNode; className?: string }) {
  return (
    <div className={`table-scroll ${className ?? ''}`} tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

// The "Export" menu: one button that opens a list of downloads (reports, CSV tables) and actions (activations…).
import { useEffect, useRef, useState, type ReactNode } from 'react';

export interface ExportItem {
  label: ReactNode;
  /** One line under the label, e.g. the file it makes. */
  hint?: string;
  testId: string;
  /** A link: downloaded (the server names the file) or, with `newTab`, opened in a new tab. */
  href?: string;
  newTab?: boolean;
  onSelect?: () => void;
  disabled?: string | false;
}

export interface ExportGroup {
  title: string;
  items: ExportItem[];
}

interface Props {
  groups: ExportGroup[];
  testId?: string;
  disabled?: string | false;
  label?: string;
  /**
   * Asked before a download starts: a message says why it cannot (e.g. the run was deleted in another tab), shown
   * beside the button instead of a download that fails without a word.
   */
  precheck?: () => Promise<string | null>;
}

/** Follows a download link from code, once the precheck has passed. */
function download(href: string): void {
  const a = document.createElement('a');
  a.href = href;
  a.download = '';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function ExportMenu({ groups, testId = 'export-button', disabled, label = 'Export', precheck }: Props) {
  const [open, setOpen] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('mousedown', onDown);
      document.removeEventListener('keydown', onKey);
    };
  }, [open]);
  // Closed a tick after a click, so the link is still in the page when the browser follows it.
  const closeSoon = () => window.setTimeout(() => setOpen(false), 0);

  return (
    <div className="menu-wrap" ref={root}>
      <button
        type="button"
        className={`btn ${open ? 'on' : ''}`}
        data-testid={testId}
        aria-haspopup="menu"
        aria-expanded={open}
        disabled={!!disabled}
        title={disabled || 'Download reports, tables and raw activations'}
        onClick={() => {
          setProblem(null);
          setOpen((o) => !o);
        }}
      >
        {label} <span aria-hidden="true">▾</span>
      </button>
      {problem && (
        <p className="field-error menu-problem" role="alert" data-testid={`${testId}-error`}>
          {problem}
        </p>
      )}
      {open && (
        <div className="menu" role="menu" data-testid={`${testId}-menu`}>
          {groups.map((g) => (
            <div key={g.title} className="menu-group" role="group" aria-label={g.title}>
              <div className="menu-title">{g.title}</div>
              {g.items.map((it) => {
                const body = (
                  <>
                    <span className="menu-label">{it.label}</span>
                    {it.hint && <span className="menu-hint">{it.hint}</span>}
                  </>
                );
                if (it.disabled)
                  return (
                    <span key={it.testId} className="menu-item disabled" role="menuitem" aria-disabled="true" title={it.disabled} data-testid={it.testId}>
                      {body}
                    </span>
                  );
                if (it.href)
                  return (
                    <a
                      key={it.testId}
                      className="menu-item"
                      role="menuitem"
                      data-testid={it.testId}
                      href={it.href}
                      {...(it.newTab ? { target: '_blank', rel: 'noreferrer' } : { download: '' })}
                      onClick={(e) => {
                        setProblem(null);
                        if (!precheck || it.newTab) return closeSoon();
                        e.preventDefault();
                        setOpen(false);
                        const href = it.href!;
                        void precheck().then(
                          (why) => (why ? setProblem(why) : download(href)),
                          (err: unknown) => setProblem(`could not reach the server: ${(err as Error).message}`),
                        );
                      }}
                    >
                      {body}
                    </a>
                  );
                return (
                  <button
                    key={it.testId}
                    type="button"
                    className="menu-item"
                    role="menuitem"
                    data-testid={it.testId}
                    onClick={() => {
                      setOpen(false);
                      it.onSelect?.();
                    }}
                  >
                    {body}
                  </button>
                );
              })}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

// Keeps the open view in the URL hash (#/run/<id>, #/compare/<id>,<id>, #/twins/<vanilla>,<myopic>) so reloads and
// shared links reopen it.
import { useWorkbench, type View } from './store';

export function viewToHash(v: View): string {
  if (v.kind === 'run') return `#/run/${v.id}`;
  if (v.kind === 'compare') return `#/compare/${v.ids.join(',')}`;
  if (v.kind === 'twins') return `#/twins/${v.ids.join(',')}`;
  if (v.kind === 'experiments') return v.id ? `#/experiments/${v.id}` : '#/experiments';
  if (v.kind === 'search') return v.id ? `#/search/${v.id}` : '#/search';
  return '';
}

export function hashToView(hash: string): View {
  const x = /^#\/experiments(?:\/([0-9a-f-]+))?$/i.exec(hash);
  if (x) return { kind: 'experiments', id: x[1] ?? null };
  const s = /^#\/search(?:\/([0-9a-f-]+))?$/i.exec(hash);
  if (s) return { kind: 'search', id: s[1] ?? null };
  const m = /^#\/(run|compare|twins)\/([0-9a-f,-]+)$/i.exec(hash);
  if (!m) return { kind: 'empty' };
  if (m[1] === 'run') return { kind: 'run', id: m[2] };
  const ids = m[2].split(',').filter(Boolean);
  if (m[1] === 'twins') return ids.length === 2 ? { kind: 'twins', ids: [ids[0], ids[1]] } : { kind: 'empty' };
  return ids.length >= 2 ? { kind: 'compare', ids } : { kind: 'empty' };
}

/** Reads the hash once at start, then mirrors store -> hash and hash -> store (back/forward buttons). */
export function startHashSync(): () => void {
  const apply = () => {
    const v = hashToView(window.location.hash);
    const s = useWorkbench.getState();
    if (viewToHash(v) === viewToHash(s.view)) return;
    if (v.kind === 'run') s.openRun(v.id);
    else if (v.kind === 'compare') s.openCompare(v.ids);
    else if (v.kind === 'twins') s.openTwins(v.ids);
    else if (v.kind === 'experiments') s.openExperiments(v.id);
    else if (v.kind === 'search') s.openSearch(v.id);
    else s.closeView();
  };
  apply();
  const unsub = useWorkbench.subscribe((s, prev) => {
    if (s.view === prev.view) return;
    const h = viewToHash(s.view);
    if (h !== window.location.hash) {
      if (h) window.history.pushState(null, '', h);
      else window.history.pushState(null, '', window.location.pathname + window.location.search);
    }
  });
  window.addEventListener('popstate', apply);
  window.addEventListener('hashchange', apply);
  return () => {
    unsub();
    window.removeEventListener('popstate', apply);
    window.removeEventListener('hashchange', apply);
  };
}

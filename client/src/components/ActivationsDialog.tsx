// "Export activations": pick hook kinds x layers, see the safetensors file's size (from the server's estimate) against
// the export limit, download it, and read how to load it in Python.
import { useEffect, useMemo, useRef, useState } from 'react';
import { GLOBAL_HOOKS, HOOK_SHAPES, LAYER_HOOK_KINDS, hookName, type GlobalHook, type LayerHookKind } from '@shared/hooks.js';
import { api, useActivationsEstimate, useActivationsRefusal } from '../data/api';
import { shortId } from '../format';
import { blockLabel } from './chartBits';

const KIND_TEXT: Record<LayerHookKind | GlobalHook, string> = {
  hook_resid_pre: 'residual stream entering the block',
  hook_resid_mid: 'after the attention residual add',
  hook_resid_post: 'after the MLP residual add',
  'attn.hook_pattern': 'attention probabilities',
  'attn.hook_v': 'value vectors',
  'attn.hook_value_norm': "‖v·W_O‖ per head (the read map's weights)",
  'ln_final.hook_normalized': 'final layer norm output',
  logits: 'logits over the vocabulary',
};

/** Bytes in the units people read (binary: 1 KiB = 1024 B), with the exact count beside it where it is small. */
export function bytesText(b: number): string {
  if (b < 1024) return `${b.toLocaleString('en-US')} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = b / 1024;
  let k = 0;
  while (v >= 1024 && k < units.length - 1) {
    v /= 1024;
    k++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[k]}`;
}

/** The hook names (or per-kind globs, when every layer is picked) that a selection asks for, in a stable order. */
export function selectedHooks(kinds: ReadonlySet<string>, layers: 'all' | ReadonlySet<number>, nLayer: number): string[] {
  const out: string[] = [];
  for (const kind of LAYER_HOOK_KINDS) {
    if (!kinds.has(kind)) continue;
    if (layers === 'all') out.push(`blocks.*.${kind}`);
    else for (let l = 0; l < nLayer; l++) if (layers.has(l)) out.push(hookName(l, kind));
  }
  for (const g of GLOBAL_HOOKS) if (kinds.has(g)) out.push(g);
  return out;
}

interface Props {
  runId: string;
  nLayer: number;
  onClose: () => void;
}

export function ActivationsDialog({ runId, nLayer, onClose }: Props) {
  const [kinds, setKinds] = useState<Set<string>>(() => new Set(['hook_resid_pre', 'attn.hook_pattern']));
  const [allLayers, setAllLayers] = useState(true);
  const [layerSet, setLayerSet] = useState<Set<number>>(() => new Set([0]));
  const hooks = useMemo(() => selectedHooks(kinds, allLayers ? 'all' : layerSet, nLayer), [kinds, allLayers, layerSet, nLayer]);
  const est = useActivationsEstimate(runId, hooks);
  const current = est.data && !est.isPlaceholderData ? est.data : undefined;
  const over = !!current && !current.withinLimit;
  const refusal = useActivationsRefusal(runId, hooks, over);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    document.addEventListener('keydown', onKey);
    box.current?.querySelector<HTMLElement>('input')?.focus();
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);

  const toggleKind = (k: string) =>
    setKinds((s) => {
      const n = new Set(s);
      if (n.has(k)) n.delete(k);
      else n.add(k);
      return n;
    });
  const toggleLayer = (l: number) =>
    setLayerSet((s) => {
      const n = new Set(s);
      if (n.has(l)) n.delete(l);
      else n.add(l);
      return n;
    });

  const file = `precache-lens-${runId}.safetensors`;
  const example = current?.hooks[0]?.name ?? 'blocks.0.attn.hook_pattern';
  const exampleShape = current?.hooks[0] ? `(${current.hooks[0].shape.join(', ')})` : null;
  const problem =
    hooks.length === 0
      ? 'Pick at least one hook kind (and, with “these layers”, at least one layer).'
      : est.error
        ? (est.error as Error).message
        : over
          ? (refusal.data ?? `The file would be ${bytesText(current.totalBytes)}, over the export limit of ${bytesText(current.limitBytes)}; pick fewer hooks or layers.`)
          : null;
  const ready = !!current && current.withinLimit && hooks.length > 0 && !est.isFetching;

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="act-title" data-testid="activations-dialog" ref={box}>
        <header className="modal-head">
          <h2 id="act-title">Export activations</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <p className="muted small">
          Reruns run <span className="mono">{shortId(runId)}</span>&rsquo;s forward pass with the prompt and saves the hooks you pick as one{' '}
          <b>safetensors</b> file (float32, tensors named by hook, batch dimension 1 kept; sequence = BOS + prompt + input).
        </p>
        <div className="act-grid">
          <fieldset className="act-kinds">
            <legend>Hooks</legend>
            {[...LAYER_HOOK_KINDS, ...GLOBAL_HOOKS].map((k) => (
              <label key={k} className="act-kind" title={`${HOOK_SHAPES[k]} — ${KIND_TEXT[k]}`}>
                <input type="checkbox" checked={kinds.has(k)} onChange={() => toggleKind(k)} data-testid={`act-kind-${k}`} />
                <span className="mono">{(LAYER_HOOK_KINDS as readonly string[]).includes(k) ? `blocks.l.${k}` : k}</span>
                <span className="muted small">
                  {HOOK_SHAPES[k]} · {KIND_TEXT[k]}
                </span>
              </label>
            ))}
          </fieldset>
          <fieldset className="act-layers">
            <legend>Layers (for blocks.l.* hooks)</legend>
            <label className="act-radio">
              <input type="radio" name="act-layers" checked={allLayers} onChange={() => setAllLayers(true)} data-testid="act-layers-all" /> all {nLayer} layers
            </label>
            <label className="act-radio">
              <input type="radio" name="act-layers" checked={!allLayers} onChange={() => setAllLayers(false)} data-testid="act-layers-some" /> these layers:
            </label>
            <div className="act-layer-chips" role="group" aria-label="Layers to export">
              {Array.from({ length: nLayer }, (_, l) => {
                const on = !allLayers && layerSet.has(l);
                return (
                  <button
                    key={l}
                    type="button"
                    className={`chip-btn mono ${on || allLayers ? 'on' : ''}`}
                    aria-pressed={on || allLayers}
                    data-testid={`act-layer-${l}`}
                    onClick={() => {
                      if (allLayers) {
                        setAllLayers(false);
                        setLayerSet(new Set([l]));
                      } else toggleLayer(l);
                    }}
                  >
                    {blockLabel(l)}
                  </button>
                );
              })}
            </div>
          </fieldset>
        </div>

        <section className="act-estimate" data-testid="activations-estimate" aria-live="polite">
          {hooks.length > 0 && !current && !est.error && <p className="muted small">estimating…</p>}
          {current && (
            <>
              <div className="table-scroll act-table-wrap">
                <table className="span-list act-table">
                  <thead>
                    <tr>
                      <th>tensor (hook)</th>
                      <th>shape</th>
                      <th className="num">size</th>
                    </tr>
                  </thead>
                  <tbody>
                    {current.hooks.map((h) => (
                      <tr key={h.name} data-testid="activations-hook-row" data-hook={h.name} data-bytes={h.bytes}>
                        <td className="mono">{h.name}</td>
                        <td className="mono">[{h.shape.join(', ')}]</td>
                        <td className="num" title={`${h.bytes.toLocaleString('en-US')} bytes`}>
                          {bytesText(h.bytes)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className={`act-total ${over ? 'over' : ''}`} data-testid="activations-total" data-bytes={current.totalBytes} data-limit={current.limitBytes}>
                {current.hooks.length} tensor{current.hooks.length === 1 ? '' : 's'} · file <b>{bytesText(current.totalBytes)}</b> ({current.totalBytes.toLocaleString('en-US')} bytes, with
                its JSON header) · limit {bytesText(current.limitBytes)}
                {est.isFetching && <span className="muted"> · updating…</span>}
              </p>
            </>
          )}
          {problem && (
            <p className="field-error" role="alert" data-testid="activations-error">
              {problem}
            </p>
          )}
        </section>

        <div className="modal-actions">
          {ready ? (
            // A form POST (the server runs the model on POST only) that the browser saves straight to disk.
            <form method="post" action={api.activationsUrl(runId)} style={{ display: 'contents' }}>
              <input type="hidden" name="hooks" value={hooks.join(',')} />
              <button type="submit" className="btn primary" data-testid="activations-download">
                Download .safetensors
              </button>
            </form>
          ) : (
            <button type="button" className="btn primary" disabled data-testid="activations-download" title={problem ?? 'estimating the size…'}>
              Download .safetensors
            </button>
          )}
          <button type="button" className="btn" onClick={onClose}>
            Close
          </button>
        </div>
        <div className="act-hint">
          <p className="muted small">
            In Python (<span className="mono">pip install safetensors numpy</span>):
          </p>
          <pre className="code" data-testid="activations-python">
            {`from safetensors.numpy import load_file
t = load_file("${file}")
t["${example}"].shape${exampleShape ? `  # ${exampleShape}` : ''}`}
          </pre>
          <p className="muted small">
            Scripts can fetch the same file: <span className="mono">POST /api/runs/{shortId(runId)}…/activations</span> with{' '}
            <span className="mono">{JSON.stringify({ hooks: hooks.length ? hooks : ['…'] })}</span> (names or globs; <span className="mono">*</span> = every hook).
          </p>
        </div>
      </div>
    </div>
  );
}

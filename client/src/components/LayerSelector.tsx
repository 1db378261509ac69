// Chips to select a layer; the selection is shared by every chart of the run (linked views).
import { useWorkbench } from '../state/store';
import { blockLabel } from './chartBits';

export function LayerSelector({ nLayer }: { nLayer: number }) {
  const layer = useWorkbench((s) => s.selection.layer);
  const selectLayer = useWorkbench((s) => s.selectLayer);
  return (
    <div className="layer-selector" role="toolbar" aria-label="Select a layer" data-testid="layer-selector">
      <span className="muted">Layer:</span>
      {Array.from({ length: nLayer }, (_, l) => (
        <button key={l} type="button" className={`chip-btn mono ${layer === l ? 'on' : ''}`} aria-pressed={layer === l} onClick={() => selectLayer(l)}>
          {blockLabel(l)}
        </button>
      ))}
      {layer !== null && (
        <button type="button" className="link" onClick={() => selectLayer(null)}>
          clear
        </button>
      )}
    </div>
  );
}

// Recurrent models: how much the prompt changed each layer's state (the RNN's counterpart of the read shares).
import type { LayerReadShares } from '@shared/analysis.js';
import { TableScroll } from './TableScroll';

export function StateChangeTable({ layers }: { layers: LayerReadShares[] }) {
  return (
    <TableScroll label="State change per layer">
      <table className="compare-table" data-testid="state-change-table">
        <thead>
          <tr>
            <th>layer</th>
            <th className="num">at the boundary</th>
            <th className="num">mean over the input</th>
            <th>hook</th>
          </tr>
        </thead>
        <tbody>
          {layers.map((l) => (
            <tr key={l.layer}>
              <td>{l.layer}</td>
              <td className="num">{l.state ? l.state.boundaryChange.toFixed(3) : '–'}</td>
              <td className="num">{l.state ? l.state.inputChange.toFixed(3) : '–'}</td>
              <td className="mono small">{l.state?.hook ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

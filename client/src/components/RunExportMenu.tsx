// A run's exports in one menu: the JSON and HTML reports, the CSV tables, and raw activations (a dialog).
import { useState } from 'react';
import type { RunReportTable } from '@shared/api.js';
import { ApiError } from '@shared/api.js';
import { api, keys, queryClient } from '../data/api';
import { shortId } from '../format';
import { ActivationsDialog } from './ActivationsDialog';
import { ExportMenu, type ExportGroup } from './ExportMenu';

const TABLES: { table: RunReportTable; text: string }[] = [
  { table: 'tokens', text: 'per input token: loss with / without the prompt, benefit' },
  { table: 'layers', text: 'per layer: read shares, sink, depth curve, layer profile' },
  { table: 'heads', text: 'per layer and head: read shares' },
  { table: 'spans', text: 'per span: knockout importance' },
];

export function runExportGroups(runId: string, onActivations: () => void): ExportGroup[] {
  return [
    {
      title: 'Report',
      items: [
        { label: 'JSON report', hint: 'every number, versioned schema', testId: 'export-json', href: api.runReportUrl(runId, 'json') },
        { label: 'HTML report', hint: 'self-contained, charts inlined', testId: 'export-html', href: api.runReportUrl(runId, 'html') },
        { label: 'HTML report in a tab', hint: 'to print to PDF', testId: 'export-html-print', href: api.runReportUrl(runId, 'html', { inline: true }), newTab: true },
      ],
    },
    {
      title: 'CSV tables',
      items: TABLES.map((t) => ({ label: `${t.table}.csv`, hint: t.text, testId: `export-csv-${t.table}`, href: api.runReportUrl(runId, 'csv', { table: t.table }) })),
    },
    {
      title: 'Raw tensors',
      items: [{ label: 'Activations…', hint: 'hooks you pick, as safetensors for Python', testId: 'export-activations', onSelect: onActivations }],
    },
  ];
}

/** Null when the run can still be exported; else why not (deleted, perhaps in another tab). */
async function runStillThere(runId: string): Promise<string | null> {
  try {
    await api.run(runId);
    return null;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
    return `Run ${shortId(runId)} no longer exists (it was deleted, perhaps in another tab): there is nothing to export.`;
  }
}

export function RunExportMenu({ runId, nLayer, done }: { runId: string; nLayer: number | null; done: boolean }) {
  const [dialog, setDialog] = useState(false);
  return (
    <>
      <ExportMenu groups={runExportGroups(runId, () => setDialog(true))} disabled={done ? false : 'Exports need a finished run'} precheck={() => runStillThere(runId)} />
      {dialog && nLayer !== null && <ActivationsDialog runId={runId} nLayer={nLayer} onClose={() => setDialog(false)} />}
    </>
  );
}

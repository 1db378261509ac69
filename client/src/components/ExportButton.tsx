// Downloads the run as JSON (the same document GET /api/runs/:id returns).
export function ExportButton({ runId }: { runId: string }) {
  return (
    <a className="btn" data-testid="export-button" href={`/api/runs/${encodeURIComponent(runId)}`} download={`precache-lens-run-${runId}.json`} title="Download this run as JSON">
      Export JSON
    </a>
  );
}

// A labelled progress/usage bar. `danger` paints it red (over a limit, failed).
export function ProgressBar({ value, label, danger }: { value: number; label: string; danger?: boolean }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className={danger ? 'bar bar-danger' : 'bar'} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
      <div className="bar-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

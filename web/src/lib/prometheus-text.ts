// Reads single unlabelled gauges out of Prometheus text format (/api/metrics), enough for the
// status page's host gauges without a parser dependency. Pure and import-free.
export function readGauge(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [metric, value] = line.trim().split(/\s+/);
    if (metric === name) {
      const n = Number(value);
      return Number.isFinite(n) ? n : undefined;
    }
  }
  return undefined;
}

// Alertmanager webhook payloads shaped exactly as Alertmanager 0.2x sends them (version 4), for
// the receiver tests. Not a test file.

export interface PayloadAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export function amAlert(over: Partial<PayloadAlert> & { alertname?: string; severity?: string } = {}): PayloadAlert {
  const { alertname = 'HighAuthFailureRate', severity = 'warning', ...rest } = over;
  return {
    status: 'firing',
    labels: { alertname, instance: '127.0.0.1:18443', job: 'limen', severity },
    annotations: {
      summary: '0.35 authentication failures/s on LIMEN 127.0.0.1:18443',
      description: 'More than 0.2 failed authentications per second for 2 minutes.',
      runbook: 'docs/runbooks/HighAuthFailureRate.md',
    },
    // Nanosecond precision and the zero endsAt of a firing alert, as Alertmanager really sends them.
    startsAt: '2025-03-01T10:00:00.123456789Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus:9090/graph?g0.expr=sum+by+%28instance%29',
    fingerprint: 'a1b2c3d4e5f60718',
    ...rest,
  };
}

export function amPayload(alerts: PayloadAlert[], over: Record<string, unknown> = {}): Record<string, unknown> {
  const first = alerts[0];
  return {
    receiver: first?.labels.severity === 'critical' ? 'limen-critical' : 'limen-warning',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts,
    groupLabels: { alertname: first?.labels.alertname ?? '', instance: first?.labels.instance ?? '' },
    commonLabels: first?.labels ?? {},
    commonAnnotations: first?.annotations ?? {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '{}/{severity="warning"}:{alertname="HighAuthFailureRate", instance="127.0.0.1:18443"}',
    truncatedAlerts: 0,
    ...over,
  };
}

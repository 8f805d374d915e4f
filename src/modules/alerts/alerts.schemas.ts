// TypeBox schemas of the Alertmanager webhook payload (version 4, as documented for
// webhook_config) and of GET /api/alerts. Unknown payload fields are accepted: Alertmanager adds
// fields over time (truncatedAlerts came later) and a newer Alertmanager must not be refused.
import { Type, type Static } from 'typebox';

const StringMap = Type.Record(Type.String(), Type.String({ maxLength: 65_536 }));
const Status = Type.Union([Type.Literal('firing'), Type.Literal('resolved')]);
// RFC 3339 as Go prints it (nanoseconds allowed); the zero time 0001-01-01T00:00:00Z too.
const Time = Type.String({ format: 'date-time', maxLength: 64 });

export const WebhookAlert = Type.Object({
  status: Status,
  labels: StringMap,
  annotations: StringMap,
  startsAt: Time,
  endsAt: Time,
  generatorURL: Type.Optional(Type.String({ maxLength: 4096 })),
  fingerprint: Type.String({ minLength: 1, maxLength: 128, pattern: '^[0-9A-Za-z_-]+$' }),
});

export const WebhookPayload = Type.Object({
  version: Type.Literal('4'),
  groupKey: Type.String({ maxLength: 65_536 }),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  status: Status,
  receiver: Type.String({ minLength: 1, maxLength: 256 }),
  groupLabels: Type.Optional(StringMap),
  commonLabels: Type.Optional(StringMap),
  commonAnnotations: Type.Optional(StringMap),
  externalURL: Type.Optional(Type.String({ maxLength: 4096 })),
  // Alertmanager sends the whole group in one notification; 10 000 is far beyond any LIMEN group.
  alerts: Type.Array(WebhookAlert, { maxItems: 10_000 }),
});
export type WebhookPayload = Static<typeof WebhookPayload>;

export const WebhookResponse = Type.Object({
  received: Type.Integer(),
  inserted: Type.Integer(),
  updated: Type.Integer(),
});

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const AlertItem = Type.Object({
  fingerprint: Type.String(),
  alertname: Type.String(),
  status: Status,
  severity: NullableString,
  labels: Type.Record(Type.String(), Type.String()),
  annotations: Type.Record(Type.String(), Type.String()),
  starts_at: Type.String({ format: 'date-time' }),
  ends_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  received_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  receiver: Type.String(),
});

export const AlertListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    severity: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    alertname: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })),
    per_page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })),
  },
  { additionalProperties: false },
);
export type AlertListQuery = Static<typeof AlertListQuery>;

// Hostile input over every route of the app's own OpenAPI document (CONTRACT.md §3-§4): generated
// path params, queries and bodies (wrong types, huge strings, deep nesting, prototype-pollution
// keys, invalid UTF-8, oversized and mistyped payloads) as anonymous, user and admin. The server
// must never answer 5xx, every error must have the contract's shape without internals, the
// process must not have its Object.prototype polluted, and it must keep serving afterwards.
// Reproduce a failure with LIMEN_FUZZ_SEED=<seed printed in the failure> (and LIMEN_FUZZ_RUNS).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { insertTestUser, newAdmin, newUser } from '../helpers/factories.js';

type Who = 'anonymous' | 'user' | 'admin';
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Operation {
  method: Method;
  /** OpenAPI path, e.g. /api/vms/{uuid} */
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodyProps: string[];
  hasBody: boolean;
}

interface GeneratedRequest {
  who: Who;
  params: Record<string, string>;
  query: string;
  contentType: string | undefined;
  payload: string | Buffer | undefined;
  label: string;
}

const SEED = Number(process.env.LIMEN_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.LIMEN_FUZZ_RUNS ?? 40);

// Built once: a body just past the 1 MiB bodyLimit, and a huge (but in-limit) string value.
const OVERSIZED = Buffer.alloc(1024 * 1024 + 512, 0x61);
const HUGE = 'A'.repeat(200_000);

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

const hostileString = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    '../../../../etc/passwd',
    '..%2f..%2fetc%2fpasswd',
    '\u0000',
    '%00',
    "' or 1=1 --",
    '<script>alert(1)</script>',
    '${jndi:ldap://x}',
    '\ud800',
    'NaN',
    '-1',
    '1e309',
    '9'.repeat(40),
    '',
    ' ',
    'true',
    'null',
  ),
  fc.constant(HUGE),
);

/** Values of the wrong type (or of a right type with hostile content) for any field. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.integer(),
  fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1.5, 1e308),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS)), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** Percent-encodes any string, lone surrogates included (encodeURIComponent throws on those). */
const pct = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return pctBytes(s);
  }
};
const pctBytes = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');

/** JSON object text with the given entries verbatim (so "__proto__" stays an own key on the wire). */
const objectText = (entries: [string, unknown][]): string => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;

function deepNesting(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function bodyArb(op: Operation): fc.Arbitrary<Pick<GeneratedRequest, 'contentType' | 'payload' | 'label'>> {
  const json = (label: string) => (payload: string) => ({ contentType: 'application/json', payload, label });
  const props = op.bodyProps.length > 0 ? op.bodyProps : ['name'];
  const shaped = fc
    .tuple(
      fc.subarray(props),
      fc.array(wrongValue, { minLength: props.length, maxLength: props.length }),
      fc.subarray([...PROTO_KEYS]),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map(([keys, values, protoKeys, protoValue]) =>
      objectText([...keys.map((k, i): [string, unknown] => [k, values[i]]), ...protoKeys.map((k): [string, unknown] => [k, k === 'constructor' ? { prototype: { role: 'admin', polluted: true } } : protoValue])]),
    )
    .map(json('schema-shaped with wrong types'));
  return fc.oneof(
    { weight: 5, arbitrary: shaped },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)).map(json('random json')) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: 64, max: 20_000 }), fc.constantFrom('array' as const, 'object' as const)).map(([d, k]) => json(`nesting ${d} ${k}`)(deepNesting(d, k))),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{"__proto__":{"role":"admin","polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"a":{"__proto__":{"polluted":true}}}', '[{"__proto__":null}]')
        .map(json('prototype pollution')),
    },
    {
      weight: 1,
      // Invalid UTF-8: lone continuation bytes, overlong encodings, truncated sequences, raw garbage.
      arbitrary: fc
        .oneof(
          fc.constantFrom(Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80])),
          fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
        )
        .map((payload) => ({ contentType: 'application/json', payload, label: 'invalid utf-8' })),
    },
    { weight: 1, arbitrary: fc.constant({ contentType: 'application/json', payload: OVERSIZED, label: 'oversized' }) },
    { weight: 1, arbitrary: fc.constant({ contentType: 'application/json', payload: `{"name":${JSON.stringify(HUGE)}}`, label: 'huge string' }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-16', 'application/octet-stream', undefined), hostileString)
        .map(([contentType, s]) => ({ contentType, payload: s, label: `content-type ${contentType ?? 'none'}` })),
    },
    { weight: 1, arbitrary: fc.constant({ contentType: 'application/json', payload: '', label: 'empty json' }) },
  );
}

function queryArb(op: Operation): fc.Arbitrary<string> {
  const names = [...op.queryParams, ...PROTO_KEYS, 'token', 'ticket'];
  return fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), fc.oneof(hostileString, wrongValue.map((v) => JSON.stringify(v) ?? ''))), { maxLength: 5 })
    .map((pairs) => pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&'));
}

function paramArb(victims: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom(...victims) },
    { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
    { weight: 3, arbitrary: hostileString.filter((s) => s.length > 0 && s.length < 5000) },
  );
}

// Valid admin calls of these start real background work (a backup runs pg_dump/tar for seconds):
// the fuzzer sends admins only invalid bodies there; validation is what it is testing.
const HEAVY_WHEN_VALID = new Set(['POST /api/admin/backups']);

function parsesToKnownKeysOnly(payload: GeneratedRequest['payload'], props: string[]): boolean {
  if (typeof payload !== 'string') return false;
  try {
    const v: unknown = JSON.parse(payload);
    return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.entries(v).every(([k, x]) => props.includes(k) && typeof x === 'boolean');
  } catch {
    return false;
  }
}

function requestArb(op: Operation, victims: string[]): fc.Arbitrary<GeneratedRequest> {
  const params = fc.tuple(...op.pathParams.map(() => paramArb(victims))).map((vals) => Object.fromEntries(op.pathParams.map((p, i) => [p, vals[i]!])));
  const body = op.hasBody || op.method !== 'GET' ? bodyArb(op) : fc.constant({ contentType: undefined, payload: undefined, label: 'no body' });
  return fc
    .record({ who: fc.constantFrom<Who>('anonymous', 'user', 'admin'), params, query: queryArb(op), body })
    .map(({ body: b, ...r }) => ({ ...r, ...b }))
    .filter((r) => !(HEAVY_WHEN_VALID.has(`${op.method} ${op.path}`) && r.who === 'admin' && parsesToKnownKeysOnly(r.payload, op.bodyProps)));
}

/** Absolute paths, stack frames, module paths: nothing a client should ever see. */
const LEAK = /\bat [\w.<>]+ \(|node:internal|node_modules|\/work\/|\/home\/|\/tmp\/|\.ts:\d+|\.js:\d+:\d+|SQLSTATE|pglite|drizzle|password_hash/i;
const ERROR_KEYS = new Set(['code', 'message', 'error_code', 'request_id', 'details']);

describe('hostile input over every OpenAPI route', () => {
  let t: TestApp;
  const ops: Operation[] = [];
  let victims: string[] = [];
  const headers: Record<Who, Record<string, string>> = { anonymous: {}, user: {}, admin: {} };
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  const loginAll = async (): Promise<void> => {
    headers.user = (await newUser(t.app)).auth;
    headers.admin = (await newAdmin(t.app)).auth;
  };

  before(async () => {
    t = await buildTestApp();
    await loginAll();
    // Real ids so some generated requests reach past "not found": a user admins may act on.
    victims = [(await insertTestUser(t.app)).id, (await insertTestUser(t.app, { status: 'pending' })).id];
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }>> }>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [m, o] of Object.entries(methods)) {
        const params = o.parameters ?? [];
        const json = o.requestBody?.content?.['application/json']?.schema;
        ops.push({
          method: m.toUpperCase() as Method,
          path,
          pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
          queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
          bodyProps: Object.keys(json?.properties ?? {}),
          hasBody: o.requestBody !== undefined,
        });
      }
    }
  });
  after(() => t?.close());

  test('the OpenAPI document lists the routes under test', (ctx) => {
    ctx.diagnostic(`seed ${SEED}, ${RUNS} runs per route, ${ops.length} operations`);
    assert.ok(ops.length >= 40, `only ${ops.length} operations in /api/openapi.json`);
    for (const must of ['POST /api/vms', 'POST /api/auth/login', 'PUT /api/admin/users/{id}/quota', 'PUT /api/admin/isos/{name}']) {
      assert.ok(ops.some((o) => `${o.method} ${o.path}` === must), `${must} missing from the OpenAPI document`);
    }
  });

  test('every route: no 5xx, contract error bodies, no internals, no prototype pollution', async (ctx) => {
    const failures: string[] = [];
    const timings: [string, number][] = [];
    for (const op of ops) {
      // logout/refresh may legitimately end the fuzzing identities' sessions: log in again after.
      if (op.path.startsWith('/api/auth/')) await loginAll();
      const t0 = performance.now();
      try {
        await fc.assert(
          fc.asyncProperty(requestArb(op, victims), async (r) => {
            const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => pct(r.params[name] ?? ''));
            const url = r.query ? `${path}?${r.query}` : path;
            const res = await t.app.inject({
              method: op.method,
              url,
              headers: { ...headers[r.who], ...(r.contentType ? { 'content-type': r.contentType } : {}) },
              ...(r.payload !== undefined ? { payload: r.payload } : {}),
            });
            const where = `${op.method} ${url.slice(0, 160)} as ${r.who} [${r.label}] → ${res.statusCode}: ${res.body.slice(0, 300)}`;
            assert.ok(res.statusCode < 500, `server error: ${where}`);
            // Security headers on every answer, errors included (security-headers.ts).
            assert.equal(res.headers['x-content-type-options'], 'nosniff', where);
            assert.equal(res.headers['x-frame-options'], 'DENY', where);
            assert.equal(res.headers['referrer-policy'], 'no-referrer', where);
            assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', where);
            assert.match(String(res.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/, where);
            assert.equal(res.headers['cache-control'], 'no-store', where);
            if (res.statusCode >= 400) {
              assert.match(String(res.headers['content-type']), /application\/json/, where);
              const b = res.json<Record<string, unknown>>();
              for (const k of Object.keys(b)) assert.ok(ERROR_KEYS.has(k), `unexpected key ${k}: ${where}`);
              assert.equal(b.code, res.statusCode, where);
              assert.equal(typeof b.error_code, 'string', where);
              assert.match(String(b.error_code), /^[A-Z_]+$/, where);
              assert.equal(typeof b.message, 'string', where);
              assert.match(String(b.request_id), /^[0-9a-f-]{36}$/, where);
              if (b.details !== undefined) assert.equal(typeof b.details, 'object', where);
              assert.doesNotMatch(res.body, LEAK, `internals leaked: ${where}`);
            }
            assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoBefore, `Object.prototype polluted: ${where}`);
            assert.equal(({} as Record<string, unknown>).polluted, undefined, `Object.prototype polluted: ${where}`);
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: true },
        );
        timings.push([`${op.method} ${op.path}`, Math.round(performance.now() - t0)]);
      } catch (err) {
        // fast-check's message repeats the (possibly 200 kB) counterexample: keep the assertion.
        const msg = (err as Error).message;
        const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : msg;
        failures.push(`${op.method} ${op.path}: ${/\{ seed: [^}]*\}/.exec(msg)?.[0] ?? ''} ${cause.slice(0, 700)}`);
      }
    }
    ctx.diagnostic(`seed ${SEED}; slowest: ${timings.sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, ms]) => `${k} ${ms} ms`).join(', ')}`);
    assert.deepEqual(failures, [], `seed ${SEED} (rerun with LIMEN_FUZZ_SEED=${SEED})`);
  });

  test('the server logged no unhandled error and keeps serving', async () => {
    await loginAll();
    const unhandled = t.logs.lines.filter((l) => /"level":50/.test(l) || /unhandled error/.test(l));
    assert.deepEqual(unhandled.slice(0, 5), [], 'errors were logged while fuzzing');
    const health = await t.app.inject({ method: 'GET', url: '/api/health' });
    assert.equal(health.statusCode, 200);
    const me = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: headers.admin });
    assert.equal(me.statusCode, 200);
    // a fresh request id per request, and a random UUID still answers 404 (routing intact)
    const vm = await t.app.inject({ method: 'GET', url: `/api/vms/${randomUUID()}`, headers: headers.user });
    assert.equal(vm.statusCode, 404);
  });
});

// The UI's generated API types (web/src/api/openapi.gen.ts) and the document they come from must
// match what the server's route schemas produce today; otherwise run `npm run gen:api`, then
// `npm run typecheck:web` shows every page the change breaks.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { committed, generateApi } from './api-codegen.js';

test('web/src/api/openapi.json and openapi.gen.ts match the server (run `npm run gen:api` if not)', async () => {
  const fresh = await generateApi();
  const files = committed();
  assert.ok(files.doc === fresh.doc, 'web/src/api/openapi.json is stale: run `npm run gen:api`');
  assert.ok(files.types === fresh.types, 'web/src/api/openapi.gen.ts is stale: run `npm run gen:api`');
});

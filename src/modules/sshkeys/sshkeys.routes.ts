// /api/me/ssh-keys: the caller's own SSH public keys (cloud-init puts them into VMs made from
// cloud-image templates). Only ever the caller's keys: another user's key id is a 404.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { isUniqueViolation } from '../../platform/db/query.js';
import { AppError, conflict, notFound } from '../../platform/http/app-error.js';
import { audit } from '../audit/index.js';
import { principalOf } from '../auth/index.js';
import { parseSshPublicKey } from './ssh-key-format.js';
import { countSshKeys, deleteSshKey, insertSshKey, listSshKeys, type SshKeyRecord } from './sshkeys.repo.js';

/** Enough for any person's devices; bounds the seed ISO and the table. */
export const MAX_SSH_KEYS_PER_USER = 32;

const SshKeyDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  public_key: Type.String(),
  fingerprint: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

const toDto = (k: SshKeyRecord) => ({ id: k.id, name: k.name, public_key: k.publicKey, fingerprint: k.fingerprint, created_at: k.createdAt.toISOString() });

const security = [{ bearer: [] }];
const tags = ['profile'];

export function registerSshKeyRoutes(ctx: AppContext): FastifyPluginAsync {
  const db = ctx.database.db;
  return async (app) => {
    app.get(
      '/api/me/ssh-keys',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Your SSH public keys', response: { 200: Type.Object({ items: Type.Array(SshKeyDto), total: Type.Integer() }) } } },
      async (req) => {
        const items = (await listSshKeys(db, principalOf(req).id)).map(toDto);
        return { items, total: items.length };
      },
    );

    app.post(
      '/api/me/ssh-keys',
      {
        config: { auth: 'user' },
        schema: {
          tags,
          security,
          summary: 'Add an SSH public key (OpenSSH format: "<type> <base64> [comment]")',
          body: Type.Object({ public_key: Type.String({ maxLength: 16384 }), name: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
          response: { 201: SshKeyDto },
        },
      },
      async (req, reply) => {
        const p = principalOf(req);
        const body = req.body as { public_key: string; name?: string };
        const parsed = parseSshPublicKey(body.public_key);
        const name = (body.name ?? parsed.comment).trim().slice(0, 64) || parsed.fingerprint.slice(0, 64);
        // eslint-disable-next-line no-control-regex
        if (/[\u0000-\u001f\u007f]/.test(name)) throw new AppError('VALIDATION_FAILED', 'name must not contain control characters', { field: 'name' });
        if ((await countSshKeys(db, p.id)) >= MAX_SSH_KEYS_PER_USER) throw conflict(`At most ${MAX_SSH_KEYS_PER_USER} SSH keys per user`);
        try {
          const key = await insertSshKey(db, { userId: p.id, name, publicKey: parsed.key, fingerprint: parsed.fingerprint });
          await audit(db, req, { action: 'sshkey.add', targetType: 'ssh_key', targetId: key.id, result: 'success', details: { fingerprint: key.fingerprint } });
          return reply.code(201).send(toDto(key));
        } catch (e) {
          if (isUniqueViolation(e)) throw conflict('You already added this key', { fingerprint: parsed.fingerprint });
          throw e;
        }
      },
    );

    app.delete(
      '/api/me/ssh-keys/:id',
      {
        config: { auth: 'user' },
        schema: { tags, security, summary: 'Remove one of your SSH keys (VMs made earlier keep theirs)', params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 204: Type.Null() } },
      },
      async (req, reply) => {
        const id = (req.params as { id: string }).id;
        if (!(await deleteSshKey(db, principalOf(req).id, id))) throw notFound('SSH key');
        await audit(db, req, { action: 'sshkey.delete', targetType: 'ssh_key', targetId: id, result: 'success' });
        return reply.code(204).send();
      },
    );
  };
}

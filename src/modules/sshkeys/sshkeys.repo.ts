// user_ssh_keys rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export interface SshKeyRecord {
  id: string;
  userId: string;
  name: string;
  publicKey: string;
  fingerprint: string;
  createdAt: Date;
}

interface Row {
  id: string;
  user_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  created_at: Date | string;
}

const toRecord = (r: Row): SshKeyRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  publicKey: r.public_key,
  fingerprint: r.fingerprint,
  createdAt: new Date(r.created_at),
});

export async function listSshKeys(db: Queryable, userId: string): Promise<SshKeyRecord[]> {
  return (await queryRows<Row>(db, sql`select * from user_ssh_keys where user_id = ${userId} order by created_at, id`)).map(toRecord);
}

export async function insertSshKey(db: Queryable, k: { userId: string; name: string; publicKey: string; fingerprint: string }): Promise<SshKeyRecord> {
  const r = await queryOne<Row>(
    db,
    sql`insert into user_ssh_keys (user_id, name, public_key, fingerprint) values (${k.userId}, ${k.name}, ${k.publicKey}, ${k.fingerprint}) returning *`,
  );
  return toRecord(r!);
}

export async function deleteSshKey(db: Queryable, userId: string, id: string): Promise<boolean> {
  return (await queryRows<{ id: string }>(db, sql`delete from user_ssh_keys where id = ${id} and user_id = ${userId} returning id`)).length > 0;
}

export async function countSshKeys(db: Queryable, userId: string): Promise<number> {
  return (await queryOne<{ n: number }>(db, sql`select count(*)::int as n from user_ssh_keys where user_id = ${userId}`))?.n ?? 0;
}

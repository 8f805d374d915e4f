// isos rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export interface IsoRecord {
  id: string;
  name: string;
  fileName: string;
  sizeBytes: number;
  sha256: string;
  createdAt: Date;
}

interface Row {
  id: string;
  name: string;
  file_name: string;
  size_bytes: string | number;
  sha256: string;
  created_at: Date | string;
}

const toRecord = (r: Row): IsoRecord => ({
  id: r.id,
  name: r.name,
  fileName: r.file_name,
  sizeBytes: Number(r.size_bytes),
  sha256: r.sha256,
  createdAt: new Date(r.created_at),
});

export async function listIsos(db: Queryable): Promise<IsoRecord[]> {
  return (await queryRows<Row>(db, sql`select * from isos order by name`)).map(toRecord);
}

export async function findIso(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<IsoRecord | undefined> {
  const r = opts.forUpdate
    ? await queryOne<Row>(db, sql`select * from isos where id = ${id} for update`)
    : await queryOne<Row>(db, sql`select * from isos where id = ${id}`);
  return r ? toRecord(r) : undefined;
}

export async function findIsoByName(db: Queryable, name: string): Promise<IsoRecord | undefined> {
  const r = await queryOne<Row>(db, sql`select * from isos where name = ${name}`);
  return r ? toRecord(r) : undefined;
}

export async function insertIso(db: Queryable, i: { name: string; fileName: string; sizeBytes: number; sha256: string }): Promise<IsoRecord> {
  const r = await queryOne<Row>(
    db,
    sql`insert into isos (name, file_name, size_bytes, sha256) values (${i.name}, ${i.fileName}, ${i.sizeBytes}, ${i.sha256}) returning *`,
  );
  return toRecord(r!);
}

export async function deleteIsoRow(db: Queryable, id: string): Promise<void> {
  await db.execute(sql`delete from isos where id = ${id}`);
}

/** How many VMs reference the ISO (attached now or configured for their next boot). */
export async function countVmsUsingIso(db: Queryable, id: string): Promise<number> {
  const r = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from vms where iso_id = ${id}`);
  return r?.n ?? 0;
}

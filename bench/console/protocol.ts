// The tiny protocol shared by the bench's source and client (see source.ts).
export const BANNER = Buffer.from('RFB 003.008\n');
export const BULK_MAGIC = 0xb00b5eed;
export const BULK_REQUEST_LEN = 12;

export function bulkRequest(bytes: number): Buffer {
  const b = Buffer.alloc(BULK_REQUEST_LEN);
  b.writeUInt32BE(BULK_MAGIC, 0);
  b.writeBigUInt64BE(BigInt(bytes), 4);
  return b;
}

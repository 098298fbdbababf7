/**
 * Little-endian u64 fields read as two u32 halves: Pika's versions, list indexes and times exceed
 * 2^53 (list indexes sit around 2^63), and BigInt per record would be the costliest allocation
 * of the whole decode.
 */

/** Unsigned compare of the u64 at `a[ao]` with the one at `b[bo]`. */
export function compareU64(a: Buffer, ao: number, b: Buffer, bo: number): number {
  const ah = a.readUInt32LE(ao + 4);
  const bh = b.readUInt32LE(bo + 4);
  if (ah !== bh) return ah < bh ? -1 : 1;
  const al = a.readUInt32LE(ao);
  const bl = b.readUInt32LE(bo);
  return al === bl ? 0 : al < bl ? -1 : 1;
}

/** True when the 8 bytes at `a[ao]` equal those at `b[bo]`. */
export function equalU64(a: Buffer, ao: number, b: Buffer, bo: number): boolean {
  return a.readUInt32LE(ao) === b.readUInt32LE(bo) && a.readUInt32LE(ao + 4) === b.readUInt32LE(bo + 4);
}

/** The u64 as a JS number; exact below 2^53 (counts), approximate above (only for messages). */
export function u64ToNumber(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 4) * 0x1_0000_0000 + buf.readUInt32LE(off);
}

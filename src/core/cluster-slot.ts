/**
 * Redis Cluster's key slots: CRC16/XMODEM of the key (or of its hash tag) modulo 16384. Pure
 * functions, used by the sink (routing, a cluster target's slots) and by the converter (keys of
 * our own that must share a data key's slot).
 */
const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  TABLE[i] = c;
}

export function crc16(key: Buffer): number {
  let crc = 0;
  for (let i = 0; i < key.length; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ key[i]) & 0xff];
  return crc;
}

export const SLOTS = 16384;

/**
 * The Redis Cluster slot of a key, hash tags included: when the key has a `{…}` with at least one
 * byte between the first `{` and the next `}`, only those bytes are hashed (what Redis does).
 */
export function clusterSlot(key: Buffer): number {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(key.subarray(open + 1, close)) & (SLOTS - 1);
  }
  return crc16(key) & (SLOTS - 1);
}

let tags: string[] | null = null;

/**
 * A short string hashing to `slot`: a key `name{tag}` then lives in that slot, so a key of our
 * own (the load guard) can sit beside the data key it guards and one script may touch both.
 * Built once by counting up until every slot has one (about 170 000 hashes).
 */
export function slotTag(slot: number): string {
  if (tags === null) {
    const t = new Array<string>(SLOTS);
    let missing = SLOTS;
    for (let i = 0; missing > 0; i++) {
      const s = i.toString(36);
      const slotOf = crc16(Buffer.from(s)) & (SLOTS - 1);
      if (t[slotOf] === undefined) {
        t[slotOf] = s;
        missing--;
      }
    }
    tags = t;
  }
  return tags[slot];
}

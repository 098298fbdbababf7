import { SLOTS } from '../core/cluster-slot.js';

/** `host:port` of the master serving each slot (index = slot), as CLUSTER SLOTS reports it. */
export type SlotMap = string[];

/**
 * Reads a CLUSTER SLOTS reply. A master announced with an empty host (`""` or `?`, Redis 7 when
 * `cluster-announce-hostname` is unset and the endpoint type is unknown) is the node we asked.
 * Throws naming the first slot without a master: a map with holes cannot route.
 */
export function parseClusterSlots(reply: unknown, askedHost: string): SlotMap {
  if (!Array.isArray(reply)) throw new Error(`CLUSTER SLOTS answered ${JSON.stringify(reply)}`);
  const map = new Array<string>(SLOTS);
  for (const range of reply as unknown[][]) {
    const [lo, hi, master] = range as [number, number, [string | Buffer, number]];
    const rawHost = String(master[0]);
    const host = rawHost === '' || rawHost === '?' ? askedHost : rawHost;
    const addr = `${host}:${Number(master[1])}`;
    for (let s = Number(lo); s <= Number(hi); s++) map[s] = addr;
  }
  for (let s = 0; s < SLOTS; s++) if (map[s] === undefined) throw new Error(`slot ${s} is served by no master (cluster not fully covered)`);
  return map;
}

export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/**
 * A MOVED or ASK error reply: where to go and whether ASKING must come first; null for any other
 * error. An endpoint without a host (`MOVED 3999 :6381`, Redis 7 with an unknown endpoint type)
 * means the host of the node that answered.
 */
export function parseRedirect(message: string, askedHost: string): { addr: string; asking: boolean } | null {
  const m = /^(MOVED|ASK) \d+ (\S*):(\d+)$/.exec(message);
  if (m === null) return null;
  return { addr: `${m[2] === '' || m[2] === '?' ? askedHost : m[2]}:${m[3]}`, asking: m[1] === 'ASK' };
}

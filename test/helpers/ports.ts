/**
 * Listening ports for the processes tests start, chosen below Linux's ephemeral range
 * (net.ipv4.ip_local_port_range, 32768–60999 by default): a port in it can be taken between the
 * check and the listen by the local end of any outgoing connection the suite opens (hundreds per
 * file: Redis clients, replication links), and a daemon whose A/B rsync port went that way stopped
 * a whole describe block now and then.
 */
import { createServer } from 'node:net';

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A random P in [min, min + span) with P + each offset free; every P + offset stays below 32768. */
export async function freePortBlock(min: number, span: number, offsets: readonly number[]): Promise<number> {
  const top = min + span - 1 + Math.max(0, ...offsets);
  if (top >= 32768) throw new Error(`ports up to ${top} reach into the ephemeral range`);
  for (;;) {
    const p = min + Math.floor(Math.random() * span);
    let free = true;
    for (const o of offsets) if (!(await portFree(p + o))) free = false;
    if (free) return p;
  }
}

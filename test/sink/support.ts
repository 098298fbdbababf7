import type { RedisCommand } from '../../src/core/command.js';
import { silentLogger } from '../../src/core/log.js';
import type { SourcePosition } from '../../src/core/position.js';
import { SenderPool, type SenderPoolOptions } from '../../src/sink/pool.js';
import type { Sink } from '../../src/sink/sink.js';
import type { RedisServer } from '../helpers/redis.js';

export function snap(seq: number): SourcePosition {
  return { kind: 'snapshot', db: 0, seq };
}

export function binlog(filenum: number, offset: number): SourcePosition {
  return { kind: 'binlog', db: 0, filenum, offset };
}

/** A command on one key: the key is the first argument. */
export function keyed(name: string, key: string, rest: Array<string | Buffer>, pos: SourcePosition): RedisCommand {
  const k = Buffer.from(key);
  return { name, args: [k, ...rest], key: k, pos };
}

export function poolFor(r: RedisServer, extra: Partial<SenderPoolOptions> = {}): Promise<SenderPool> {
  return SenderPool.connect({ host: r.host, port: r.port, db: 0, senders: 4, batchSize: 50, logger: silentLogger(), ...extra });
}

/** Submits in order, waiting whenever the pool asks for it. */
export async function submitAll(pool: Sink, cmds: Iterable<RedisCommand>): Promise<void> {
  for (const c of cmds) {
    const p = pool.submit(c);
    if (p !== undefined) await p;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A Buffer of `n` bytes whose content shows any shift or truncation. */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

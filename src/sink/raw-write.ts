import type { Writable } from 'node:stream';
import { Command, type Redis } from 'ioredis';
import { commandSize, RespWriter, type WireArg } from './resp.js';

/**
 * Queues the reply slot of one command on an ioredis connection without writing anything, so that
 * bytes the sender writes to the socket itself get their reply matched in order, as ioredis's
 * own. Only on a ready connection: the sender's connections have no offline queue.
 */
export function replySlot(redis: Redis, name: string): Promise<unknown> {
  // ioredis's pipeline form of a stream: it takes the command's (empty) encoding, which is dropped.
  const swallow = { isPipeline: true as const, write: (): boolean => true, destination: { redis: { stream: redis.stream } } };
  const c = new Command(name, []);
  void redis.sendCommand(c, swallow);
  return c.promise;
}

/**
 * Writes `name args…` on the connection with one reply slot. ioredis would copy a command with a
 * Buffer argument into one new buffer: a batch script's 60 KB argument became two allocations and
 * a copy per batch. Here long arguments go to the socket by reference (resp.ts BY_REFERENCE).
 * The caller checks the connection is ready.
 */
export function writeCommand(redis: Redis, name: string, args: ReadonlyArray<WireArg>): Promise<unknown> {
  const w = new RespWriter(commandSize(name, args, true), true);
  w.command(name, args);
  const reply = replySlot(redis, name.toLowerCase());
  writeChunks(redis.stream, w.chunks());
  return reply;
}

/** Writes the chunks to a connection's socket as one write. */
export function writeChunks(s: Writable, chunks: ReadonlyArray<Buffer>): void {
  s.cork();
  for (let i = 0; i < chunks.length; i++) s.write(chunks[i]);
  s.uncork();
}

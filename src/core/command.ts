import type { SourcePosition } from './position.js';

/**
 * The one command type that enters the sink. The sink knows nothing about Pika: it routes by
 * `key`, pipelines, reads every reply and reports acknowledged positions.
 */
export interface RedisCommand {
  /** Upper-case command name, e.g. `SET`. */
  readonly name: string;
  /** Arguments after the name. Buffers keep binary keys and values exact. */
  readonly args: ReadonlyArray<Buffer | string>;
  /**
   * The key that decides the sender (stable hash), so one key's commands keep their order.
   * `null` for commands without a key (e.g. `FLUSHDB`); those go through the barrier.
   */
  readonly key: Buffer | null;
  /**
   * True when the command touches several keys that may live on different senders and it could
   * not be split exactly: all senders are drained before it is sent, and nothing is sent after it
   * until it is acknowledged.
   */
  readonly barrier?: boolean;
  /** Where in the source this command came from. */
  readonly pos: SourcePosition;
}

export function commandKeyText(cmd: RedisCommand): string {
  return cmd.key === null ? '(none)' : printableBytes(cmd.key);
}

/** Printable rendering of binary data for logs: ASCII as is, other bytes as \xNN. */
export function printableBytes(b: Buffer, max = 200): string {
  let out = '';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i];
    out += c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : '\\x' + c.toString(16).padStart(2, '0');
  }
  return b.length > max ? `${out}…(${b.length} bytes)` : out;
}

import type { RedisCommand } from '../core/command.js';

/** Pika version families (replication.md header table): A 3.2.x, B 3.3–3.4, C 3.5.x, D 4.0.x. */
export type PikaFamily = 'A' | 'B' | 'C' | 'D';

/**
 * Something the operator should know about one conversion: a command dropped, emulated, or not
 * reproducible exactly. `code` is stable (for counting and alerting), `message` names the binlog
 * position and the command.
 */
export interface ConvertNote {
  readonly level: 'warn' | 'info' | 'debug';
  readonly code: string;
  readonly message: string;
}

/** The Redis commands one binlog entry becomes (possibly none), and what to report about it. */
export interface ConvertResult {
  readonly commands: RedisCommand[];
  readonly notes: readonly ConvertNote[];
}

import { commandKeyText, type RedisCommand } from '../core/command.js';
import { FatalError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { formatPosition } from '../core/position.js';
import { statName, type ErrorClass } from './replies.js';
import type { CommandErrorEvent } from './sink.js';

/**
 * A sink's error accounting, the same for one Redis and a Redis Cluster: error replies counted by
 * code and by what was done about them, refused commands, and the log line each one gets. The
 * sink owns the events and the stop; the tally only says when an error must stop it.
 */
export class ErrorTally {
  readonly errors: Record<string, number> = {};
  readonly classes: Record<ErrorClass, number> = { typeConflict: 0, retryable: 0, fatal: 0, keyKept: 0, keyExists: 0, other: 0 };
  refused = 0;

  constructor(
    private readonly log: Logger,
    /** The message of the FatalError for a command the target refused for lack of permission. */
    private readonly permissionDenied: (ev: CommandErrorEvent) => string,
  ) {}

  count(code: string, cls: ErrorClass): void {
    const name = statName(code);
    this.errors[name] = (this.errors[name] ?? 0) + 1;
    this.classes[cls]++;
  }

  /** A command dropped before sending (`code` is what it counts as); logged with why. */
  refuse(cmd: RedisCommand, code: string, why: string): void {
    this.refused++;
    this.count(code, 'other');
    this.log.error({ key: commandKeyText(cmd), pos: formatPosition(cmd.pos), command: cmd.name, args: cmd.args.length }, `command dropped: ${why}`);
  }

  /** Counts and logs an error reply of a data command; the FatalError the sink must stop with, or null. */
  commandError(ev: CommandErrorEvent): FatalError | null {
    const { cmd, sender, message } = ev;
    this.count(ev.code, ev.class);
    const key = commandKeyText(cmd);
    const pos = formatPosition(cmd.pos);
    const fields = { sender, key, pos, command: cmd.name, err: message };
    switch (ev.class) {
      case 'typeConflict':
        this.log.warn(fields, 'type conflict: the key holds another type in Redis; command skipped');
        return null;
      case 'keyKept':
        this.log.warn({ sender, key, pos }, 'key already exists on the target: kept as it is (conflict-policy skip)');
        return null;
      case 'keyExists':
        return new FatalError(`key ${key} (${pos}) already exists on the target and conflict-policy is fail; it was left as it is`);
      case 'fatal':
        this.log.error(fields, 'Redis refused a command for lack of permission');
        return new FatalError(this.permissionDenied(ev));
      default:
        this.log.error(fields, 'command failed in Redis and was dropped');
        return null;
    }
  }
}

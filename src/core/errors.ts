/** Failure kinds, as classes so callers branch on type, not on message text. */

/** Bad usage or configuration: the process exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Names the record a decoder was given, for a CorruptionError; called only when one is thrown. */
export type Where = () => string;

/** Something in the source (a frame, a binlog entry, a file) is malformed; `where` names the offset. */
export class CorruptionError extends Error {
  override name = 'CorruptionError';
  constructor(
    message: string,
    readonly where: string,
  ) {
    super(`${where}: ${message}`);
  }
}

/** A condition that stops the daemon with exit code 1 (e.g. the target rejects our credentials). */
export class FatalError extends Error {
  override name = 'FatalError';
}

/**
 * The target no longer holds writes it had acknowledged (it restarted empty, failed over to a
 * replica that missed them, was flushed behind our back). Nothing retried can fill the hole: a
 * load fails, the daemon stops acking the master until the operator starts over.
 */
export class TargetLostWritesError extends FatalError {
  override name = 'TargetLostWritesError';
}

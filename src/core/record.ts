import type { SourcePosition } from './position.js';

/** Redis-visible data types a Pika snapshot can hold (streams: Pika 3.5.3+ and 4.0). */
export type DataType = 'string' | 'hash' | 'list' | 'set' | 'zset' | 'stream';

/** A stream entry: its ID (`ms-seq`, decimal) and its field/value list, alternating. */
export interface StreamEntry {
  readonly id: string;
  readonly fields: ReadonlyArray<Buffer>;
}

/**
 * What a stream's meta says beyond its entries, so the target ends with the same counters
 * (Redis 7 `XSETID … ENTRIESADDED … MAXDELETEDID …`). IDs as `ms-seq`.
 */
export interface StreamState {
  readonly lastId: string;
  readonly entriesAdded: string;
  readonly maxDeletedId: string;
}

/**
 * The one record type that leaves the snapshot reader. A record is one key's data, or one chunk of
 * it: big keys are streamed as several records with the same key and type, `first` on the first
 * chunk and `last` on the final one, so memory never holds a whole key. Expiry applies after the
 * last chunk.
 */
interface RecordBase {
  readonly db: number;
  readonly key: Buffer;
  /** Absolute expiry in ms since the epoch, or null when persistent. */
  readonly expireAtMs: number | null;
  readonly first: boolean;
  readonly last: boolean;
  readonly pos: SourcePosition;
  /**
   * A–C: this type of the name loses to an earlier type in `type-order` that holds it live, so
   * Redis keeps it under its side name (read only with `emitShadowed`; absent otherwise).
   */
  readonly shadowed?: true;
}

/**
 * Where one piece of a big value lies in the whole value: a string's (ScanContext.stringPieces), or
 * the one hash field value or list element of a record (ScanContext.elementPieces).
 */
export interface ValuePiece {
  /** Byte offset of this piece's bytes in the value. */
  readonly offset: number;
  /** The whole value's length, so the target can size it once. */
  readonly total: number;
}

export type SnapshotRecord =
  /** `piece`: present exactly when the string comes in pieces (a value of several MiB). */
  | (RecordBase & { readonly type: 'string'; readonly value: Buffer; readonly piece?: ValuePiece })
  /** `piece`: the record holds one field, whose value comes in pieces (records in a row, one per piece). */
  | (RecordBase & { readonly type: 'hash'; readonly fields: ReadonlyArray<readonly [Buffer, Buffer]>; readonly piece?: ValuePiece })
  /** List elements in list order (head first); chunks follow each other in order. `piece`: as a hash's, for its one element. */
  | (RecordBase & { readonly type: 'list'; readonly elements: ReadonlyArray<Buffer>; readonly piece?: ValuePiece })
  | (RecordBase & { readonly type: 'set'; readonly members: ReadonlyArray<Buffer> })
  | (RecordBase & { readonly type: 'zset'; readonly members: ReadonlyArray<readonly [Buffer, number]> })
  /** Entries in ID order; every chunk carries the stream's state, applied after the last one. */
  | (RecordBase & { readonly type: 'stream'; readonly entries: ReadonlyArray<StreamEntry>; readonly state: StreamState });

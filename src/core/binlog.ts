/** A position in one DB's Pika binlog: file `write2file<filenum>`, byte offset in it. */
export interface BinlogPosition {
  readonly filenum: number;
  readonly offset: number;
}

/**
 * One decoded binlog item (the 34-byte little-endian header + one RESP array), as streamed by the
 * master in BinlogSync. Produced by replication/, consumed by convert/.
 */
export interface BinlogEntry {
  readonly db: number;
  /** Unix seconds when the master encoded the entry (for lag in seconds). */
  readonly execTime: number;
  /** Header fields, informational only: on a chained master they are not authoritative. */
  readonly termOrServerId: number;
  readonly logicId: bigint;
  readonly headerPos: BinlogPosition;
  /** The command and its arguments, exactly as logged (name case as the client sent it). */
  readonly argv: Buffer[];
  /** The protobuf `binlog_offset` of the entry: the position after it, which is acked and checkpointed. */
  readonly end: BinlogPosition;
}

export function compareBinlogPositions(a: BinlogPosition, b: BinlogPosition): number {
  return a.filenum !== b.filenum ? a.filenum - b.filenum : a.offset - b.offset;
}

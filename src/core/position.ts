/**
 * Where a command came from in the source. Every command that enters the sink carries one, so that
 * acknowledgements can flow back upstream as source positions (checkpoint, acks to the master).
 *
 * - `snapshot`: `seq` is the ordinal of the record in the snapshot scan of that DB (0, 1, 2, …).
 * - `binlog`: a Pika binlog position (`filenum`, byte `offset` in `write2file<filenum>`) of the
 *   entry the command was converted from; it is the position *after* the entry, as Pika's
 *   BinlogSync acks it.
 */
export type SourcePosition =
  | { readonly kind: 'snapshot'; readonly db: number; readonly seq: number }
  | { readonly kind: 'binlog'; readonly db: number; readonly filenum: number; readonly offset: number };

/** Total order within one DB: every snapshot position precedes every binlog position. */
export function comparePositions(a: SourcePosition, b: SourcePosition): number {
  if (a.db !== b.db) return a.db - b.db;
  if (a.kind !== b.kind) return a.kind === 'snapshot' ? -1 : 1;
  if (a.kind === 'snapshot' && b.kind === 'snapshot') return a.seq - b.seq;
  const x = a as Extract<SourcePosition, { kind: 'binlog' }>;
  const y = b as Extract<SourcePosition, { kind: 'binlog' }>;
  return x.filenum !== y.filenum ? x.filenum - y.filenum : x.offset - y.offset;
}

export function formatPosition(p: SourcePosition): string {
  return p.kind === 'snapshot' ? `db${p.db}:snapshot#${p.seq}` : `db${p.db}:${p.filenum}:${p.offset}`;
}

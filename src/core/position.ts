/**
 * Where a command came from in the source. Every command that enters the sink carries one, so that
 * acknowledgements can flow back upstream as source positions (checkpoint, acks to the master).
 *
 * - `snapshot`: `seq` is the ordinal of the record in the snapshot scan of that DB (0, 1, 2, …);
 *   `part` (absent: 0) numbers the commands one record converts to, so that each command of a
 *   record has its own position and a resumed load can tell which of them Redis applied.
 * - `binlog`: a Pika binlog position (`filenum`, byte `offset` in `write2file<filenum>`) of the
 *   entry the command was converted from; it is the position *after* the entry, as Pika's
 *   BinlogSync acks it.
 */
export type SourcePosition =
  | { readonly kind: 'snapshot'; readonly db: number; readonly seq: number; readonly part?: number }
  | { readonly kind: 'binlog'; readonly db: number; readonly filenum: number; readonly offset: number };

/** Total order within one DB: every snapshot position precedes every binlog position. */
export function comparePositions(a: SourcePosition, b: SourcePosition): number {
  if (a.db !== b.db) return a.db - b.db;
  if (a.kind !== b.kind) return a.kind === 'snapshot' ? -1 : 1;
  if (a.kind === 'snapshot' && b.kind === 'snapshot') return a.seq !== b.seq ? a.seq - b.seq : (a.part ?? 0) - (b.part ?? 0);
  const x = a as Extract<SourcePosition, { kind: 'binlog' }>;
  const y = b as Extract<SourcePosition, { kind: 'binlog' }>;
  return x.filenum !== y.filenum ? x.filenum - y.filenum : x.offset - y.offset;
}

export function formatPosition(p: SourcePosition): string {
  if (p.kind === 'binlog') return `db${p.db}:${p.filenum}:${p.offset}`;
  return `db${p.db}:snapshot#${p.seq}${p.part ? `.${p.part}` : ''}`;
}

import { CorruptionError } from '../core/errors.js';
import type { BinlogPosition } from '../core/binlog.js';

/** The `info` file of a Pika dump (spec §3.4.2): where the snapshot ends in the master's binlog. */
export interface SnapshotInfo {
  readonly durationText: string;
  readonly masterHost: string;
  readonly masterPort: number;
  readonly start: BinlogPosition;
  /** B with consensus only (never in classic mode). */
  readonly term?: number;
  readonly index?: number;
}

/**
 * Pika's replica accepts 5 lines (A) or up to 8 (B–D), lines 3… non-negative integers. We accept
 * 5–8 lines and use lines 4 and 5.
 */
export function parseInfoFile(text: string, where: string): SnapshotInfo {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 5 || lines.length > 8) {
    throw new CorruptionError(`info has ${lines.length} lines, expected 5 to 8: ${JSON.stringify(text.slice(0, 200))}`, where);
  }
  const num = (i: number): number => {
    const s = lines[i].trim();
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
      throw new CorruptionError(`info line ${i + 1} is not a non-negative integer: ${JSON.stringify(lines[i])}`, where);
    }
    return Number(s);
  };
  const filenum = num(3);
  if (filenum > 0xffffffff) throw new CorruptionError(`info binlog filenum ${filenum} out of range`, where);
  return {
    durationText: lines[0],
    masterHost: lines[1].trim(),
    masterPort: num(2),
    start: { filenum, offset: num(4) },
    ...(lines.length >= 6 ? { term: num(5) } : {}),
    ...(lines.length >= 7 ? { index: num(6) } : {}),
  };
}

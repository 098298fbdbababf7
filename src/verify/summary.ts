import type { DataType } from '../core/record.js';
import { DIFF_KINDS, type DiffKind, type NonDiffKind } from './report.js';

export interface VerifySummary {
  readonly source: string;
  readonly pikaVersion: string;
  readonly target: string;
  readonly mode: string;
  /** Keys whose value was compared, by Pika type (matching or not). */
  readonly compared: Readonly<Record<DataType, number>>;
  readonly differences: Readonly<Record<DiffKind, number>>;
  /** Differences by the Pika type compared (extra: the type Redis holds). */
  readonly differencesByType: Readonly<Record<string, number>>;
  readonly notDifferences: Readonly<Record<NonDiffKind, number>>;
  /** Pika (name, type) pairs looked at, and Redis keys looked at for extras (0 when that pass did not run). */
  readonly pikaKeys: number;
  readonly redisKeys: number;
  readonly elapsedMs: number;
  /** Stopped by a signal before the end: nothing is proven. */
  readonly interrupted: boolean;
  readonly reportFile: string | null;
}

export function totalDifferences(s: VerifySummary): number {
  return DIFF_KINDS.reduce((n, k) => n + s.differences[k], 0);
}

/** Whether the copy is proven right: the only case that exits 0. */
export function matches(s: VerifySummary): boolean {
  return !s.interrupted && totalDifferences(s) === 0;
}

const list = (r: Readonly<Record<string, number>>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** The end-of-run summary printed on stdout: counts per type and per kind of difference. */
export function formatSummary(s: VerifySummary): string {
  const compared = Object.values(s.compared).reduce((a, b) => a + b, 0);
  const secs = s.elapsedMs / 1000;
  const rate = Math.round((s.pikaKeys + s.redisKeys) / Math.max(secs, 0.001));
  const byType = Object.entries(s.differencesByType).filter(([, n]) => n > 0);
  const lines = [
    `verify: Pika ${s.pikaVersion} at ${s.source} against Redis ${s.target}, ${s.mode}`,
    `compared: ${compared} keys (${list(s.compared)})`,
    `differences: ${totalDifferences(s)} (${list(s.differences)})` + (byType.length > 0 ? `; by type: ${byType.map(([t, n]) => `${t} ${n}`).join(', ')}` : ''),
    `not differences: filtered ${s.notDifferences.filtered}, not copied by rule ${s.notDifferences['not-copied']}, ` +
      `gone from Pika meanwhile ${s.notDifferences.vanished}, ttl unverifiable ${s.notDifferences['ttl-unverifiable']}` +
      (s.notDifferences.shadowed > 0 ? `, other types of a multi-type name (cluster target: not copied) ${s.notDifferences.shadowed}` : ''),
    `looked at: ${s.pikaKeys} Pika keys, ${s.redisKeys} Redis keys in ${secs.toFixed(1)} s (${rate} keys/s)`,
    s.interrupted ? 'result: INTERRUPTED (nothing proven)' : matches(s) ? 'result: MATCH' : `result: DIFFERENT${s.reportFile === null ? '' : ` (first differences in ${s.reportFile})`}`,
  ];
  return lines.join('\n') + '\n';
}

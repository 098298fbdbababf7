import { createWriteStream, type WriteStream } from 'node:fs';
import type { DataType } from '../core/record.js';

export type DiffKind = 'missing' | 'extra' | 'type' | 'value' | 'ttl';
export const DIFF_KINDS: readonly DiffKind[] = ['missing', 'extra', 'type', 'value', 'ttl'];

/** Outcomes that are not differences: what the migration's own rules leave out or cannot tell. */
export type NonDiffKind = 'filtered' | 'not-copied' | 'vanished' | 'ttl-unverifiable' | 'shadowed';

export interface Difference {
  readonly kind: DiffKind;
  readonly key: Buffer;
  /** The Pika type compared (extra: the type Redis holds). */
  readonly type: DataType | string;
  readonly detail: string;
}

/** A key as the fixtures spell it: printable ASCII as is, anything else `hex:<bytes>`. */
export function keyText(key: Buffer): string {
  for (const c of key) if (c < 0x20 || c >= 0x7f) return `hex:${key.toString('hex')}`;
  return key.toString('latin1');
}

/**
 * The first `maxDiffs` differences, one JSON object a line (`{"kind","key","type","detail"}`),
 * written as they are found so a long run can be watched with `tail -f`.
 */
export class DiffReport {
  private readonly out: WriteStream | null;
  private written = 0;
  private failed: Error | null = null;

  constructor(
    file: string | null,
    private readonly maxDiffs: number,
  ) {
    this.out = file === null ? null : createWriteStream(file, { flags: 'w' });
    this.out?.on('error', (e) => {
      this.failed = e;
    });
  }

  /** Whether this difference is among the first `maxDiffs` (also the ones worth logging). */
  add(d: Difference): boolean {
    if (this.written >= this.maxDiffs) return false;
    this.written++;
    this.out?.write(JSON.stringify({ kind: d.kind, key: keyText(d.key), type: d.type, detail: d.detail }) + '\n');
    return true;
  }

  async close(): Promise<void> {
    const out = this.out;
    if (out !== null) await new Promise<void>((resolve) => out.end(resolve));
    if (this.failed !== null) throw new Error(`cannot write the verify report: ${this.failed.message}`);
  }
}

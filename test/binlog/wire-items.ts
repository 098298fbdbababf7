import { readFileSync } from 'node:fs';
import type { BinlogPosition } from '../../src/core/binlog.js';
import { FIXTURES } from '../helpers/fixtures.js';

export const WIRE_DIR = `${FIXTURES}/wire`;

export interface WireItem {
  readonly item: Buffer;
  /** The protobuf `binlog_offset` sent with it (its end position). */
  readonly end: BinlogPosition;
}

/**
 * The non-empty binlog items of a `.repl-frames.txt` (protobuf text format, C-style escapes), each
 * with the `binlog_offset` printed just before it.
 */
export function wireItems(file: string): WireItem[] {
  const text = readFileSync(`${WIRE_DIR}/${file}`, 'latin1');
  const out: WireItem[] = [];
  const re = /binlog_offset \{\s*filenum: (\d+)\s*offset: (\d+)[^}]*\}\s*binlog: "((?:[^"\\]|\\.)*)"/g;
  for (const m of text.matchAll(re)) {
    if (m[3] === '') continue;
    out.push({ item: unescapeProtoText(m[3]), end: { filenum: Number(m[1]), offset: Number(m[2]) } });
  }
  return out;
}

function unescapeProtoText(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      bytes.push(s.charCodeAt(i) & 0xff);
      continue;
    }
    const n = s[++i];
    if (n >= '0' && n <= '7') {
      let j = i;
      let v = 0;
      while (j < s.length && j < i + 3 && s[j] >= '0' && s[j] <= '7') v = v * 8 + (s.charCodeAt(j++) - 48);
      bytes.push(v & 0xff);
      i = j - 1;
    } else if (n === 'x') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const simple: Record<string, number> = { n: 10, r: 13, t: 9, '"': 34, "'": 39, '\\': 92, a: 7, b: 8, f: 12, v: 11 };
      if (!(n in simple)) throw new Error(`unknown escape \\${n}`);
      bytes.push(simple[n]);
    }
  }
  return Buffer.from(bytes);
}

/**
 * Test helper: builds test/fixtures-writer/rocks-writer.cc against Debian's librocksdb (cached in
 * test/.work/, rebuilt when the source is newer), runs a script through it and parses its dump.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const source = join(root, 'test', 'fixtures-writer', 'rocks-writer.cc');
const binary = join(root, 'test', '.work', 'rocks-writer');

/** shared/ beside the repository (as CI lays it out), else the workplace copy. */
export { SHARED } from '../helpers/fixtures.js';
import { SHARED } from '../helpers/fixtures.js';
export const SNAPSHOTS = join(SHARED, 'fixtures', 'snapshots');

/** Every RocksDB directory (one holding CURRENT) under the real dumps. */
export function realDbDirs(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (existsSync(join(d, 'CURRENT'))) out.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  if (existsSync(SNAPSHOTS)) walk(SNAPSHOTS);
  return out.sort();
}

export function writerBinary(): string {
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(dirname(binary), { recursive: true });
    // Test files run two at a time: each builds under a name of its own and renames, so none runs a half-written binary.
    const building = `${binary}.${process.pid}`;
    execFileSync('g++', ['-std=c++17', '-O1', '-o', building, source, '-lrocksdb'], { stdio: 'inherit' });
    renameSync(building, binary);
  }
  return binary;
}

export interface DumpedCf {
  readonly name: string;
  /** Pairs as RocksDB iterates them: hex key, and hex value or `len:N:fnv:H` for big values. */
  readonly pairs: Array<[string, string]>;
}

/**
 * Runs `script` (lines) into a fresh DB dir; returns the dir and the parsed `dump` output. A bare
 * `dump` line dumps to the work dir; `{work}` in a line is replaced by the work dir.
 */
export function writeDb(script: string[], opts: { dir?: string } = {}): { dir: string; dump: DumpedCf[]; work: string } {
  const work = mkdtempSync(join(tmpdir(), 'rocks-fixture-'));
  const dir = opts.dir ?? join(work, 'db');
  const dumpPath = join(work, 'dump.txt');
  const lines = script.map((l) => (l.trim() === 'dump' ? `dump ${dumpPath}` : l.replaceAll('{work}', work)));
  writeFileSync(join(work, 'script.txt'), lines.join('\n') + '\n');
  execFileSync(writerBinary(), [dir, join(work, 'script.txt')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const dump = existsSync(dumpPath) ? parseDump(readFileSync(dumpPath, 'latin1')) : [];
  return { dir, dump, work };
}

export function parseDump(text: string): DumpedCf[] {
  const out: DumpedCf[] = [];
  let cur: DumpedCf | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('cf ')) {
      const [, name] = line.split(' ');
      cur = { name, pairs: [] };
      out.push(cur);
    } else {
      const [k, v] = line.split(' ');
      cur!.pairs.push([k, v ?? '']);
    }
  }
  return out;
}

/** The dump form of a value (hex, or length + FNV-1a 64 for values over 4096 bytes). */
export function dumpValue(v: Buffer): string {
  if (v.length <= 4096) return v.toString('hex');
  return new BigValueDump().update(v).result();
}

/** dumpValue of a value over 4096 bytes, over its pieces in order (a value too big to hold). */
export class BigValueDump {
  // FNV-1a 64 in two 32-bit halves (prime = 2^40 + 0x1b3)
  private lo = 0x84222325;
  private hi = 0xcbf29ce4;
  private length = 0;

  update(v: Buffer): this {
    let { lo, hi } = this;
    for (let i = 0; i < v.length; i++) {
      lo = (lo ^ v[i]) >>> 0;
      const l = lo * 0x1b3;
      const carry = Math.floor(l / 0x100000000);
      hi = (Math.imul(hi, 0x1b3) + (lo << 8) + carry) >>> 0;
      lo = l >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
    this.length += v.length;
    return this;
  }

  result(): string {
    return `len:${this.length}:fnv:${this.hi.toString(16).padStart(8, '0')}${this.lo.toString(16).padStart(8, '0')}`;
  }
}

export function cleanup(work: string): void {
  rmSync(work, { recursive: true, force: true });
}

export function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

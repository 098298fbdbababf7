/**
 * Pika 3.x dumps for the benchmark, written through real RocksDB (the test fixture writer, built
 * against Debian's librocksdb) in Pika's encodings (storage.md §2.1), and cached under
 * bench/.work/ since the large one takes a while to write. strings/, hashes/ and sets/ are
 * generated; lists/ and zsets/ (custom comparators, which the writer does not have) are the real
 * 3.2.7 dump's, a few hundred keys.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../test/helpers/fixtures.js';
import { dataPrefix3, meta3, string3, x } from '../test/pika/pika-dump-writer.js';
import { writerBinary } from '../test/rocks/writer.js';

const root = new URL('..', import.meta.url).pathname;
const CACHE = join(root, 'bench', '.work');
const REAL = join(FIXTURES, 'snapshots/3.2.7-base/dump/db0');
/** Bumped whenever a dataset's recipe changes, so stale caches are rebuilt. */
const RECIPE = 'v2';

export interface Dataset {
  readonly name: string;
  /** The DB dir to load (…/dump/db0). */
  readonly dir: string;
  /** Generated keys and elements (fields, members; a string is one), the real lists/zsets aside. */
  readonly keys: number;
  readonly elements: number;
}

/** A persistent 3.x string value's suffix (expire 0), and a hash/set meta. */
export const NO_EXPIRY = x(string3(Buffer.alloc(0)));
export const meta = (count: number, version: number): string => x(meta3(count, version));
/** The data-key prefix of `key` at `version` (the field or member follows). */
export const dataPrefix = (key: string, version: number): string => x(dataPrefix3(Buffer.from(key), version));

export interface Recipe {
  readonly keys: number;
  readonly elements: number;
  /** Writer script lines per generated type directory. */
  readonly scripts: { strings?: string[]; hashes?: string[]; sets?: string[] };
}

/** The 'big-values' dataset's shape. */
export const BIG_STRINGS = 64;
export const BIG_STRING_BYTES = 1 << 20;
export const BIG_HASH_FIELDS = 1_000_000;
export const BIG_FIELD_BYTES = 300;
/** The 'huge-string' dataset: one string of this size, in an uncompressed block (read and written in pieces). */
export const HUGE_STRING_BYTES = 64 << 20;

/** The writer scripts of a dataset, for tests that write it into a directory of their own. */
export function recipeScripts(name: string): Recipe['scripts'] {
  const recipe = RECIPES[name]?.();
  if (recipe === undefined) throw new Error(`unknown dataset ${name}`);
  return recipe.scripts;
}

export const OPEN = ['option compression snappy', 'option write_buffer_size 67108864'];
/** An empty type DB still has its column families. */
const EMPTY = { strings: [], hashes: ['cf data_cf'], sets: ['cf member_cf'] };

const RECIPES: Record<string, () => Recipe> = {
  /** ~1 GB of SST: 1M strings of 1000 bytes. For the reader's MB/s. */
  'strings-1g': () => ({ keys: 1_000_000, elements: 1_000_000, scripts: { strings: [...OPEN, 'open', `putn default s: 0 1000000 1000 7 ${NO_EXPIRY}`, 'flush', 'close'] } }),
  /** One hash of 1M fields (16-byte values). */
  'hash-1m-fields': () => ({
    keys: 1,
    elements: 1_000_000,
    scripts: { hashes: [...OPEN, 'cf data_cf', 'open', `put default bighash ${meta(1_000_000, 5)}`, `putn data_cf ${dataPrefix('bighash', 5)} 0 1000000 16 3`, 'flush', 'close'] },
  }),
  /**
   * Big elements: 64 strings of 1 MiB and one hash of 1M fields of 300 bytes (~370 MB of payload),
   * for peak RSS whatever a single key's size (issue 15). test/daemon/load-memory.test.ts loads the same.
   */
  'big-values': () => ({
    keys: BIG_STRINGS + 1,
    elements: BIG_STRINGS + BIG_HASH_FIELDS,
    scripts: {
      strings: [...OPEN, 'open', `putn default big 0 ${BIG_STRINGS} ${BIG_STRING_BYTES} 7 ${NO_EXPIRY}`, 'flush', 'close'],
      hashes: [...OPEN, 'cf data_cf', 'open', `put default h ${meta(BIG_HASH_FIELDS, 1)}`, `putn data_cf ${dataPrefix('h', 1)} 0 ${BIG_HASH_FIELDS} ${BIG_FIELD_BYTES} 3`, 'flush', 'close'],
    },
  }),
    /** One string of 64 MiB, stored uncompressed: peak RSS whatever one string's size (issue 15). test/daemon/load-memory.test.ts loads the same. */
  'huge-string': () => ({
    keys: 1,
    elements: 1,
    scripts: { strings: ['option compression none', 'option write_buffer_size 268435456', 'open', `putn default huge 0 1 ${HUGE_STRING_BYTES} 7 ${NO_EXPIRY}`, 'flush', 'close'] },
  }),
  /** The same string as text, which snappy shrinks: its block stays compressed (Pika's default) and is decoded as a stream. */
  'huge-text': () => ({
    keys: 1,
    elements: 1,
    scripts: {
      strings: ['option compression snappy', 'option values text', 'option write_buffer_size 268435456', 'open', `putn default huge 0 1 ${HUGE_STRING_BYTES} 7 ${NO_EXPIRY}`, 'flush', 'close'],
    },
  }),
  /**
   * One hash whose one field holds 64 MiB of text (snappy): no command writes such a value in parts,
   * so it is built in a staging key and moved in by a script (convert/records.ts).
   */
  'huge-field': () => ({
    keys: 1,
    elements: 1,
    scripts: {
      hashes: [
        'option compression snappy',
        'option values text',
        'option write_buffer_size 268435456',
        'cf data_cf',
        'open',
        `put default huge ${meta(1, 1)}`,
        `putn data_cf ${dataPrefix('huge', 1)} 0 1 ${HUGE_STRING_BYTES} 7`,
        'flush',
        'close',
      ],
    },
  }),
/** 300k strings (64 B), 30k hashes of 10 fields, 30k sets of 10 members, one hash of 100k fields. */
  mixed: () => {
    const hashes = [...OPEN, 'cf data_cf', 'open'];
    const sets = [...OPEN, 'cf member_cf', 'open'];
    for (let i = 0; i < 30_000; i++) {
      hashes.push(`put default h:${i} ${meta(10, 9)}`, `putn data_cf ${dataPrefix(`h:${i}`, 9)} 0 10 32 ${i}`);
      sets.push(`put default st:${i} ${meta(10, 9)}`, `putn member_cf ${dataPrefix(`st:${i}`, 9)} 0 10 0 ${i}`);
    }
    hashes.push(`put default h:big ${meta(100_000, 2)}`, `putn data_cf ${dataPrefix('h:big', 2)} 0 100000 24 1`, 'flush', 'close');
    sets.push('flush', 'close');
    return {
      keys: 300_000 + 30_000 + 30_000 + 1,
      elements: 300_000 + 300_000 + 300_000 + 100_000,
      scripts: { strings: [...OPEN, 'open', `putn default s: 0 300000 64 11 ${NO_EXPIRY}`, 'flush', 'close'], hashes, sets },
    };
  },
};

export const DATASET_NAMES = Object.keys(RECIPES);

/** Bytes of the SST files under `dir`: what the reader's MB/s is measured against. */
export function sstBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.sst')) n += statSync(join(e.parentPath, e.name)).size;
  }
  return n;
}

/** The dataset, written on first use (minutes for the 1 GB one) and reused after. */
export function dataset(name: string): Dataset {
  const recipe = RECIPES[name]?.();
  if (recipe === undefined) throw new Error(`unknown dataset ${name}; known: ${DATASET_NAMES.join(', ')}`);
  const base = join(CACHE, `${name}-${RECIPE}`);
  const db0 = join(base, 'dump', 'db0');
  const stamp = join(base, 'complete');
  if (!existsSync(stamp)) {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(db0, { recursive: true });
    process.stderr.write(`bench: writing ${name} through RocksDB…\n`);
    writeDump3(db0, recipe.scripts, base);
    writeFileSync(stamp, `${RECIPE}\n`);
  }
  return { name, dir: db0, keys: recipe.keys, elements: recipe.elements };
}

/**
 * Writes a Pika 3.x DB dir (`…/db0`) through real RocksDB: the generated type directories from
 * `scripts` (kept in `work` for reference), the real 3.2.7 dump's lists and zsets, and an info file.
 */
export function writeDump3(db0: string, scripts: Recipe['scripts'], work: string): void {
  mkdirSync(db0, { recursive: true });
  const writer = writerBinary();
  for (const type of ['strings', 'hashes', 'sets'] as const) {
    const script = scripts[type] ?? [...EMPTY[type], 'open', 'close'];
    const file = join(work, `${type}.script`);
    writeFileSync(file, script.join('\n') + '\n');
    execFileSync(writer, [join(db0, type), file], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  cpSync(join(REAL, 'lists'), join(db0, 'lists'), { recursive: true });
  cpSync(join(REAL, 'zsets'), join(db0, 'zsets'), { recursive: true });
  writeFileSync(join(db0, 'info'), '0s\n127.0.0.1\n9221\n0\n0\n');
}

/**
 * Directory keys are checked before anything is started: a `log-path` that is a file or cannot be
 * created would otherwise surface as a raw stack from the logger, a `db-sync-path` only when the
 * first snapshot arrives.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { Config } from './load.js';
import type { ConfKey } from './schema.js';

export type DirKey = Extract<ConfKey, 'log-path' | 'db-sync-path'>;

/** Creates the directory of each key if missing and checks it is a writable directory; else a ConfigError `file:line key: reason`. */
export function ensureDirs(config: Config, keys: readonly DirKey[]): void {
  for (const key of keys) {
    const dir = config.values[key];
    const where = config.raw.get(key)?.where ?? `${config.file} (default)`;
    const fail = (reason: string): never => {
      throw new ConfigError(`${where} ${key}: ${dir}: ${reason}`);
    };
    try {
      makeDirs(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') fail('is not a directory');
      if (code === 'ENOTDIR') fail('a part of the path is a file, not a directory');
      fail(`cannot be created (${code ?? (e as Error).message})`);
    }
    if (!statSync(dir).isDirectory()) fail('is not a directory');
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (e) {
      fail(`is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
}

/**
 * `mkdir -p` one level at a time: Node's `mkdirSync(…, { recursive: true })` never returns for a
 * path under /proc (mkdir answers ENOENT there although the parent exists, and it retries forever).
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const m of missing.reverse()) mkdirSync(m);
}

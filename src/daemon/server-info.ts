import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package version from package.json (one source of truth for -v and INFO), found upwards from
 * this file so it works from src/ (tsx) and from dist/src/ alike. */
export const version: string = readVersion();

function readVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'pika-migrate' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}

/** A 40-hex run id like Pika's, new at every start. */
export function newRunId(): string {
  return randomBytes(20).toString('hex');
}

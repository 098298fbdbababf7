import type { ConfValues } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';

export interface DbRoute {
  /** The master's DB (dbN). */
  readonly source: number;
  /** The Redis DB it is written to. */
  readonly target: number;
}

/**
 * Which Redis DB each of the master's `databases` goes to: db-map's pairs, else db0 →
 * target-redis-db and dbN → N. Two sources into one target DB would mix their keys and their
 * exactly-once records (`pika-migrate:applied` lives in each target DB), so that is refused.
 */
export function dbRoutesOf(v: Readonly<ConfValues>, file: string): DbRoute[] {
  const mapped = new Map(v['db-map']);
  for (const src of mapped.keys()) {
    if (src >= v.databases) throw new ConfigError(`${file} db-map: db${src} is not among the master's databases (databases : ${v.databases} means db0…db${v.databases - 1})`);
  }
  const routes: DbRoute[] = [];
  for (let source = 0; source < v.databases; source++) {
    routes.push({ source, target: mapped.get(source) ?? (source === 0 ? v['target-redis-db'] : source) });
  }
  if (v['target-redis-cluster'] !== null && routes.some((r) => r.target !== 0)) {
    throw new ConfigError(`${file} databases: a Redis Cluster target has only DB 0, so it takes a master with one DB only (databases : ${v.databases}); a Redis Cluster cannot hold several DBs' keys apart`);
  }
  const seen = new Map<number, number>();
  for (const r of routes) {
    const other = seen.get(r.target);
    if (other !== undefined) {
      throw new ConfigError(`${file} db-map: db${other} and db${r.source} would both go to Redis DB ${r.target}; give each master DB its own target DB`);
    }
    seen.set(r.target, r.source);
  }
  return routes;
}

import type { Config } from '../config/load.js';
import { hostPort, int, type HostPort } from '../config/values.js';
import { ConfigError } from '../core/errors.js';
import { dbRoutesOf } from '../daemon/db-map.js';
import { checkBackConnection } from './back-connection.js';
import { checkCapacity } from './capacity.js';
import { checkMaster } from './master.js';
import { checkTarget, type TargetFacts } from './target.js';
import { checkTypes } from './type-sample.js';
import { reportOf, type CheckGroup, type CheckItem, type CheckReport } from './verdict.js';

/**
 * A group's checks, or one failing item naming the reply that stopped them: an unexpected error
 * from the master or the target is a finding, and the other groups still run.
 */
async function guarded(group: CheckGroup, run: () => Promise<CheckItem[]>): Promise<CheckItem[]> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    return [{ group, id: `${group}.error`, verdict: 'fail', detail: `the ${group} checks stopped: ${(e as Error).message}`, fix: 'see the error; run check again once it is fixed' }];
  }
}

/** The command line of `pika-migrate check` as commander hands it over. */
export interface CheckFlags {
  readonly source?: string;
  readonly sourcePassword?: string;
  readonly json?: boolean;
  readonly sample?: string;
  readonly probeWrites?: string;
  readonly binlogSample?: string;
  readonly countWait?: string;
}

export interface CheckOptions {
  readonly source: HostPort;
  readonly password: string;
  /** Names sampled per type for the type checks. */
  readonly sample: number;
  readonly probeWrites: number;
  readonly binlogSampleMs: number;
  readonly countWaitMs: number;
  readonly timeoutMs: number;
}

/** Flags → options; a bad flag is a ConfigError (exit 2) naming it. */
export function checkOptionsOf(config: Config, flags: CheckFlags): CheckOptions {
  const flagInt = (name: string, raw: string | undefined, dflt: number, min = 0, max = 100_000_000): number => {
    if (raw === undefined) return dflt;
    try {
      return int(min, max)(raw);
    } catch (e) {
      throw new ConfigError(`check --${name}: ${(e as Error).message}`);
    }
  };
  let source = config.values.slaveof;
  if (flags.source !== undefined) {
    try {
      source = hostPort(flags.source);
    } catch (e) {
      throw new ConfigError(`check --source: ${(e as Error).message}`);
    }
  }
  if (source === null) throw new ConfigError(`check: no master to look at: set slaveof in ${config.file} or pass --source <host:port>`);
  return {
    source,
    password: flags.sourcePassword ?? config.values.masterauth,
    sample: flagInt('sample', flags.sample, 1000, 1),
    probeWrites: flagInt('probe-writes', flags.probeWrites, 5000, 1, 1_000_000),
    binlogSampleMs: flagInt('binlog-sample', flags.binlogSample, 2000, 100, 600_000),
    countWaitMs: flagInt('count-wait', flags.countWait, 10_000, 0, 3_600_000),
    timeoutMs: 5000,
  };
}

/**
 * Runs every pre-flight check, reading the master only (INFO, CONFIG GET, SCANX and reads of the
 * sampled keys; `INFO keyspace 1` when no key count exists and none runs) and writing to the
 * target only its `pika-migrate:check:*` keys, deleted before it returns.
 */
export async function runCheck(config: Config, o: CheckOptions): Promise<CheckReport> {
  const routes = dbRoutesOf(config.values, config.file);
  const { items, facts: master } = await checkMaster(config, o.source, o.password, o.timeoutMs);
  try {
    items.push(...(await guarded('network', () => checkBackConnection(config, master))));
    let target: TargetFacts | null = null;
    items.push(
      ...(await guarded('target', async () => {
        const r = await checkTarget(config, routes, { timeoutMs: o.timeoutMs, probeWrites: o.probeWrites });
        target = r.facts;
        return r.items;
      })),
    );
    const t: TargetFacts | null = target;
    if (t !== null) items.push(...(await guarded('capacity', () => checkCapacity(config, master, t, { countWaitMs: o.countWaitMs, binlogSampleMs: o.binlogSampleMs }))));
    const pika = master.pika;
    if (pika !== null) items.push(...(await guarded('types', () => checkTypes(pika, config.values['type-order'], o.sample))));
    return reportOf(items);
  } finally {
    master.pika?.close();
  }
}

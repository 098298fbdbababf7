#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=8 --noallocation-site-pretenuring
// The line above is the one place where the CLI's heap settings that must precede V8's start are
// set (npm start, the Docker image and the tests' shippedNodeFlags/shippedEnv read it); tuneV8()
// below sets the rest. A 16 MB young generation and a major GC each time the old generation grows
// 30 % keep the garbage of a load (Buffers of the records in flight) from piling up to 250 MB
// before V8 collects it; glibc returns blocks of 128 KiB and more to the system when freed instead
// of keeping them in its heap, and keeps two heaps rather than one per thread, whose trimming and
// regrowth cost page faults; `gc` lets the reader ask for a young-generation GC after large
// values (core/gc-pacing.ts). Measured in the README's Memory section. The line is exactly
// the 127 bytes kernels before 5.1 read: V8's own spelling `--noflag` (for `--no-flag`) saves one.
import { constants } from 'node:os';
import { Command, CommanderError } from 'commander';
import { ensureDirs, type DirKey } from './config/dirs.js';
import { loadConfig, unknownKeyMessage, type Config } from './config/load.js';
import { shownValue } from './core/secrets.js';
import { ConfigError } from './core/errors.js';
import { createLogger, logFatal, type Logger } from './core/log.js';
import { tuneV8 } from './core/v8-tuning.js';
import type { CheckFlags } from './check/run-check.js';
import type { Daemon } from './daemon/daemon.js';
import { version } from './daemon/server-info.js';
import type { VerifyFlags } from './daemon/verify.js';

/** Exit codes, documented in the README. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A `load` stopped by a signal: the shell's 128 + signal number (130 SIGINT, 143 SIGTERM). */
export function exitForSignal(sig: NodeJS.Signals): number {
  return 128 + (constants.signals[sig] ?? 15);
}

async function runDaemon(confPath: string): Promise<number> {
  const config = loadConfig(confPath);
  const logger = loggerFor(config, ['log-path', 'db-sync-path']);
  logger.info({ version, config: confPath }, 'pika-migrate starting');
  if (config.values.daemonize) logger.warn('daemonize : yes is ignored: run pika-migrate under a supervisor (systemd, docker)');
  let daemon: Daemon;
  try {
    // Each command imports only what it runs: `load` needs no replication (protobufjs) nor metrics.
    const { Daemon } = await import('./daemon/daemon.js');
    daemon = await Daemon.start(config, logger);
  } catch (e) {
    // A conf value only checked at start (a TLS file, keys that go together) is still bad usage.
    if (e instanceof ConfigError) throw e;
    logFatal(logger, e);
    return EXIT_FAILURE;
  }
  const onSignal = (sig: NodeJS.Signals) => void daemon.stop(`received ${sig}`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await daemon.exited;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return code;
}

async function runLoad(dir: string, confPath: string): Promise<number> {
  const config = loadConfig(confPath);
  const logger = loggerFor(config);
  const v = config.values;
  logger.info({ version, dir, target: `${v['target-redis-host']}:${v['target-redis-port']}`, db: v['target-redis-db'] }, 'pika-migrate load: snapshot into Redis, no master');
  const ctl = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    stoppedBy ??= sig;
    ctl.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { offlineLoad } = await import('./daemon/offline-load.js');
    const loads = await offlineLoad(dir, config, logger, ctl.signal);
    for (const { db, summary, info, resumedSkipped } of loads) {
      const c = summary.counts;
      process.stderr.write(
        (loads.length > 1 ? `db${db.source} → Redis DB ${db.target}: ` : '') +
        `loaded ${summary.done} keys (${c.records ?? 0} records, ${c.commands ?? 0} commands, ${c.bytes ?? 0} bytes) in ${(summary.elapsedMs / 1000).toFixed(1)} s, ` +
        `${Math.round(summary.rate)} keys/s; ${summary.typeConflicts} type conflicts, ${Object.values(summary.skipped).reduce((a, b) => a + b, 0)} keys skipped, ` +
        `${summary.keysKept} existing keys kept, ${summary.filtered} filtered out` +
        (info ? `; dump taken at binlog ${info.filenum}:${info.offset} of ${info.masterIp}:${info.masterPort}` : '') +
        (resumedSkipped > 0 ? `; resumed an interrupted load: ${resumedSkipped} commands it had applied were not sent again` : '') +
        '\n',
      );
    }
    return EXIT_OK;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    logFatal(logger, e);
    if (stoppedBy !== null) {
      // Interrupted is not loaded: the keys before the stop are in Redis, the rest are not.
      process.stderr.write(
        `pika-migrate load: ${(e as Error).message}\n` +
          'pika-migrate load: the target holds part of the dump; the same load run again (same dump, same settings) goes on from there\n',
      );
      return exitForSignal(stoppedBy);
    }
    process.stderr.write(`pika-migrate load: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function runVerify(confPath: string, flags: VerifyFlags): Promise<number> {
  const config = loadConfig(confPath);
  const logger = loggerFor(config);
  const ctl = new AbortController();
  // Imported here like the other commands' modules: the daemon and `load` do not load the verifier.
  const { verify, verifyOptionsOf } = await import('./daemon/verify.js');
  const { formatSummary, matches } = await import('./verify/summary.js');
  const opts = verifyOptionsOf(config, flags, logger, ctl.signal);
  const onSignal = (sig: NodeJS.Signals) => ctl.abort(new Error(`received ${sig}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await verify(opts);
    process.stdout.write(formatSummary(summary));
    return matches(summary) ? EXIT_OK : EXIT_FAILURE;
  } catch (e) {
    logFatal(logger, e);
    process.stderr.write(`pika-migrate verify: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function runCheckCommand(confPath: string, flags: CheckFlags): Promise<number> {
  const config = loadConfig(confPath);
  const { runCheck, checkOptionsOf } = await import('./check/run-check.js');
  const { renderJson, renderTable } = await import('./check/render.js');
  const { blocks } = await import('./check/verdict.js');
  const opts = checkOptionsOf(config, flags);
  try {
    const report = await runCheck(config, opts);
    process.stdout.write(flags.json ? renderJson(report) : renderTable(report));
    return blocks(report) ? EXIT_FAILURE : EXIT_OK;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    process.stderr.write(`pika-migrate check: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

/** Checks the directories the command writes to (bad ones are exit 2), then logs the conf keys nobody knows. */
function loggerFor(config: Config, dirs: readonly DirKey[] = ['log-path']): Logger {
  ensureDirs(config, dirs);
  const v = config.values;
  const logger = createLogger({ dir: v['log-path'], level: v['log-level'], format: v['log-format'] });
  for (const u of config.unknown) logger.warn({ key: u.entry.key, where: u.entry.where, suggestion: u.suggestion }, unknownKeyMessage(u));
  for (const e of config.ignored) logger.debug({ key: e.key, value: shownValue(e.key, e.value), where: e.where }, 'pika key not used by pika-migrate');
  return logger;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command()
    .name('pika-migrate')
    .description('Moves a live Pika database into Redis: poses as a Pika replica, loads the snapshot, then follows the binlog.')
    .version(version, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help')
    .option('-c, --conf <file>', 'pika.conf with the migrate settings (see pika.conf.example)')
    // `load <dir> -c f`: the subcommand's own -c, not the daemon's.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .action(async (opts: { conf?: string }) => {
      if (opts.conf === undefined) {
        process.stderr.write('pika-migrate: -c <pika.conf> is required (try --help)\n');
        exitCode = EXIT_USAGE;
        return;
      }
      exitCode = await runDaemon(opts.conf);
    });
  program
    .command('load')
    .description('load a snapshot or bgsave dump directory (dump/ or dump/db0) into Redis, without a master')
    .argument('<dir>', 'the dump directory')
    .requiredOption('-c, --conf <file>', 'pika.conf with the target settings')
    .exitOverride()
    .action(async (dir: string, opts: { conf: string }) => {
      exitCode = await runLoad(dir, opts.conf);
    });
  program
    .command('verify')
    .description('compare the Pika (source) with the Redis target key by key, type-aware; exit 0 only when they match')
    .requiredOption('-c, --conf <file>', 'pika.conf: the Pika (slaveof, masterauth), the target (target-redis-*), type-order and filters')
    .option('--source <host:port>', 'the Pika to read (default: slaveof in the conf)')
    .option('--source-password <password>', "the Pika's requirepass (default: masterauth in the conf)")
    .option('--sample <N|ratio>', 'N keys drawn at random on each side (Pika, and Redis for extras), or this fraction of them (default: every key)')
    .option('--ttl-tolerance <ms>', 'allowed expiry gap on top of the source granularity (Pika 3.x: 1000 ms)', '1000')
    .option('--max-keys-per-sec <n>', 'keys looked at per second, Pika and Redis together (0 = no limit)', '0')
    .option('--report <file>', 'write the first --max-diffs differences there, one JSON object a line')
    .option('--max-diffs <n>', 'differences written to the report and the log', '1000')
    .exitOverride()
    .action(async (opts: VerifyFlags & { conf: string }) => {
      exitCode = await runVerify(opts.conf, opts);
    });
  program
    .command('check')
    .description('pre-flight report before anything is copied: master ports and version, back-connection, size and ETA, binlog retention, disk, target permissions and memory, multi-type names; exit 1 when something blocks')
    .requiredOption('-c, --conf <file>', 'pika.conf of the migration')
    .option('--source <host:port>', 'the Pika master (default: slaveof in the conf)')
    .option('--source-password <password>', "the master's requirepass (default: masterauth in the conf)")
    .option('--json', 'print the report as JSON')
    .option('--sample <n>', 'names sampled per type for the multi-type / HyperLogLog / NaN checks', '1000')
    .option('--probe-writes <n>', 'throwaway writes to the target to measure its rate', '5000')
    .option('--binlog-sample <ms>', "interval between two reads of the master's binlog offset", '2000')
    .option('--count-wait <ms>', 'how long to wait for a key count this run starts on the master', '10000')
    .exitOverride()
    .action(async (opts: CheckFlags & { conf: string }) => {
      exitCode = await runCheckCommand(opts.conf, opts);
    });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exitCode 0; anything else is bad usage.
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`pika-migrate: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`pika-migrate: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT_FAILURE;
  }
  return exitCode;
}

tuneV8();
main(process.argv).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`pika-migrate: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(EXIT_FAILURE);
  },
);

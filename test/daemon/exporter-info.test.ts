/**
 * INFO as pika_exporter (OpenAtomFoundation/pika, tools/pika_exporter) reads it. The rules below
 * are written from how the exporter works, not copied from it:
 * - it sends `INFO` (its default config), `INFO ALL` (every section enabled) or one `INFO <SECTION>`
 *   per enabled section, then `CONFIG GET instance-mode` and `CONFIG GET consensus-level`; an
 *   error or an empty value from either CONFIG GET fails the whole scrape;
 * - it splits the reply into lines, trims spaces, and keeps `key` → `value` at the first ':'
 *   (a later line with the same key wins);
 * - `pika_version`, cut to three dot-separated parts, must be a semantic version, or the scrape
 *   fails; the version picks which rules run;
 * - plain fields become numbers: yes/up/true/… = 1, no/down/false/… = 0, else a float, and
 *   anything that does not parse silently becomes 0 (hence the strict checks here);
 * - binlog offsets, key counts, is_bgsaving, is_scaning_keyspace, compaction and command counts
 *   come from regular expressions over the whole reply.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { FakeMaster } from '../master/fake-master.js';
import type { RedisServer } from '../helpers/redis.js';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, dataOf, startAll, untilIncremental, type TestDaemon } from './support.js';
import { SIDE_KEY_PREFIX } from '../../src/core/scripts.js';

type Version = [number, number, number];

/** The exporter's line rule: trim spaces, split at the first ':', later keys win. */
function extract(info: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of info.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^ +| +$/g, '');
    if (line === '') continue;
    const at = line.indexOf(':');
    if (at < 0) out.set(line, '');
    else out.set(line.slice(0, at).replace(/^ +| +$/g, ''), line.slice(at + 1).replace(/^ +| +$/g, ''));
  }
  return out;
}

function versionOf(fields: Map<string, string>): Version {
  const v = (fields.get('pika_version') ?? '').split('.').slice(0, 3).join('.');
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  assert.ok(m, `pika_version '${fields.get('pika_version')}' is not a semantic version: the exporter fails the scrape`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

const cmp = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
const atLeast = (v: Version, b: Version) => cmp(v, b) >= 0;

/** A value the exporter turns into the number it means (not the silent 0 of a failed parse). */
function number(fields: Map<string, string>, key: string): number {
  const v = fields.get(key);
  assert.ok(v !== undefined, `field ${key} missing`);
  assert.match(v, /^-?\d+(\.\d+)?$/, `field ${key}:${v} is not a number`);
  return Number(v);
}

function state(fields: Map<string, string>, key: string, allowed: readonly string[]): string {
  const v = fields.get(key);
  assert.ok(v !== undefined && allowed.includes(v.toLowerCase()), `field ${key}:${v} is not one of ${allowed.join(', ')}`);
  return v;
}

function all(re: RegExp, text: string): RegExpExecArray[] {
  return [...text.matchAll(new RegExp(re.source, 'g'))];
}

/** Go's time.Parse with layout "2006-01-02 15:04:05" (the Keyspace `# Time:` line). */
const PIKA_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Section titles in order, `# Name` lines that start a block (not Keyspace's `# Time:` comments). */
function sectionTitles(info: string): string[] {
  return info
    .split('\r\n')
    .filter((l, i, ls) => l.startsWith('# ') && (i === 0 || ls[i - 1] === ''))
    .map((l) => l.slice(2));
}

describe('INFO for pika_exporter (a Pika 3.5 replica as the exporter parses it)', () => {
  let target: RedisServer;
  let master: FakeMaster;
  let d: TestDaemon;
  let done: () => Promise<void>;

  before(async () => {
    ({ target, master, d, done } = await startAll('C', '3.5.5'));
    assert.equal(await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force'), 'OK');
    await untilIncremental(d);
  });
  after(() => done());

  it('CONFIG GET instance-mode and consensus-level answer a value (else every scrape fails)', async () => {
    for (const key of ['instance-mode', 'consensus-level']) {
      const reply = (await d.admin.call('CONFIG', 'GET', key)) as string[];
      assert.equal(reply[0], key);
      assert.ok(reply.length === 2 && reply[1] !== '', `CONFIG GET ${key} gave ${JSON.stringify(reply)}`);
    }
    assert.deepEqual(await d.admin.call('CONFIG', 'GET', 'instance-mode'), ['instance-mode', 'classic']);
  });

  it('INFO and INFO ALL come in Pika order; INFO <SECTION> gives that section alone', async () => {
    const plain = (await d.admin.call('INFO')) as string;
    assert.deepEqual(sectionTitles(plain), ['Server', 'Data', 'Clients', 'Stats', 'CPU', 'Replication(SLAVE)', 'Keyspace', 'Migrate']);
    const everything = (await d.admin.call('INFO', 'ALL')) as string;
    assert.deepEqual(sectionTitles(everything), ['Server', 'Data', 'Clients', 'Stats', 'Command_Exec_Count', 'CPU', 'Replication(SLAVE)', 'Keyspace', 'Migrate']);
    const titles: Record<string, string> = {
      SERVER: 'Server',
      DATA: 'Data',
      CLIENTS: 'Clients',
      STATS: 'Stats',
      CPU: 'CPU',
      REPLICATION: 'Replication(SLAVE)',
      KEYSPACE: 'Keyspace',
      COMMAND_EXEC_COUNT: 'Command_Exec_Count',
      MIGRATE: 'Migrate',
    };
    for (const [section, title] of Object.entries(titles)) {
      assert.deepEqual(sectionTitles((await d.admin.call('INFO', section)) as string), [title], section);
    }
    // The exporter's statistics job sends `INFO KEYSPACE 1`: answered, not refused.
    assert.deepEqual(sectionTitles((await d.admin.call('INFO', 'KEYSPACE', '1')) as string), ['Keyspace']);
  });

  it('every field a pika_exporter dashboard uses parses, with true values where we have them', async () => {
    const end = master.write(['set', 'exporter:k', 'v']);
    await waitFor('master acked the write', ackedUpTo(master, end), 15_000);
    await d.admin.call('CONFIG', 'GET', 'instance-mode');
    // Two samples of the per-second meters, one second apart.
    await new Promise((r) => setTimeout(r, 1100));
    const info = (await d.admin.call('INFO', 'ALL')) as string;
    const f = extract(info);
    const v = versionOf(f);
    // The rules that must apply: binlog space form (>= 3.2.0), keyspace with invalid_keys (>= 3.3.3),
    // the Keyspace time (> 3.4.0); and not the 3.4 consensus rule.
    assert.ok(atLeast(v, [3, 5, 0]), `pika_version ${v.join('.')}`);

    // Server: build_info and server_info labels, gauges.
    for (const label of ['os', 'arch_bits', 'pika_version', 'pika_git_sha', 'pika_build_compile_date', 'process_id', 'tcp_port', 'config_file', 'server_id', 'role', 'run_id']) {
      assert.ok(f.has(label), `label ${label} missing`);
    }
    assert.equal(number(f, 'process_id'), process.pid);
    assert.equal(number(f, 'tcp_port'), d.port);
    assert.ok(number(f, 'uptime_in_seconds') >= 1);
    number(f, 'thread_num');
    assert.equal(number(f, 'sync_thread_num'), 4, 'redis-sender-num of the test daemon');
    assert.ok(f.get('pika_migrate_version'));

    // Data
    number(f, 'db_size');
    number(f, 'log_size');
    assert.ok(number(f, 'used_memory') > 10 * 2 ** 20, 'process memory');
    number(f, 'db_memtable_usage');
    number(f, 'db_tablereader_usage');
    assert.equal(number(f, 'db_fatal'), 0);

    // Clients and Stats
    assert.ok(number(f, 'connected_clients') >= 1, 'this admin connection');
    assert.ok(number(f, 'total_connections_received') >= 1);
    number(f, 'instantaneous_ops_per_sec');
    const ops = number(f, 'total_commands_processed');
    assert.ok(ops > 20, `commands Redis acknowledged: ${ops}`);
    assert.ok(number(f, 'total_net_repl_input_bytes') > 0, 'bytes from the master');
    assert.ok(number(f, 'total_net_input_bytes') >= number(f, 'total_net_repl_input_bytes'));
    assert.ok(number(f, 'total_net_output_bytes') > 0, 'replies on the admin port');
    for (const k of ['total_net_repl_output_bytes', 'instantaneous_input_kbps', 'instantaneous_output_kbps', 'instantaneous_input_repl_kbps', 'instantaneous_output_repl_kbps']) number(f, k);
    const bg = all(/is_bgsaving:(No|Yes),?([^,\r\n]*)/, info);
    assert.equal(bg.length, 1, 'is_bgsaving');
    const scan = all(/is_scaning_keyspace:(No|Yes)[\s\S]*#\s*Time:([^\r\n]*)/, info);
    assert.equal(scan.length, 1, 'is_scaning_keyspace needs a Keyspace `# Time:` after it');
    assert.equal(all(/is_compact:([^\r\n]*)[\s\S]*compact_cron:([^\r\n]*)([\s\S]*compact_interval:([^\r\n]*))?/, info).length, 1, 'compact');

    // CPU
    for (const k of ['used_cpu_sys', 'used_cpu_user', 'used_cpu_sys_children', 'used_cpu_user_children']) number(f, k);
    assert.ok(number(f, 'used_cpu_user') > 0);

    // Replication as a slave: master_link_status (role matcher), slave_priority, per-DB binlog offset.
    assert.equal(state(f, 'role', ['slave']), 'slave');
    assert.equal(state(f, 'master_link_status', ['up', 'down']), 'up');
    assert.equal(f.get('master_host'), '127.0.0.1');
    assert.equal(number(f, 'master_port'), master.port);
    number(f, 'slave_priority');
    const binlog = all(/(db[\d]+)\s*binlog_offset=([^\s]*)\s*([\d]*),*safety_purge=([^\s\r\n]*)/, info);
    assert.equal(binlog.length, 1, 'one binlog_offset line for db0');
    assert.deepEqual([binlog[0][1], Number(binlog[0][2]), Number(binlog[0][3])], ['db0', end.filenum, end.offset], 'the applied position');

    // Keyspace: five types for db0, counts of what the snapshot load wrote.
    const keys = all(/(db[\d]+)\s*([^_]+)\w*keys=([\d]+)[,\s]*expires=([\d]+)[,\s]*invalid_keys=([\d]+)/, info);
    assert.deepEqual(
      keys.map((m) => `${m[1]} ${m[2]}`),
      ['db0 Strings', 'db0 Hashes', 'db0 Lists', 'db0 Zsets', 'db0 Sets'],
    );
    const loaded = keys.reduce((n, m) => n + Number(m[3]), 0);
    // Minus the live exporter:k; plus the side names of the multi-type rule (Pika counts each type of a name).
    const sides = (await target.client().keys(`${SIDE_KEY_PREFIX}*`)).length;
    const inRedis = (await dataOf(target.client())).size - 1 + sides;
    assert.ok(sides > 0, 'the 3.5.5 dump holds a name in several types');
    assert.equal(loaded, inRedis, 'keys the load wrote = keys of the snapshot in Redis, side names included');
    const time = all(/#\sTime:([^\r\n]*)/, info);
    assert.equal(time.length, 1);
    assert.match(time[0][1], PIKA_TIME);

    // Command_Exec_Count (INFO ALL only): name:count lines up to the next section.
    const block = all(/# Command_Exec_Count([^#]*)/, info);
    assert.equal(block.length, 1);
    const counts = new Map(all(/(\r|\n)*([^:]+):([\d]*)/, block[0][1]).map((m) => [m[2].trim(), Number(m[3])]));
    assert.ok((counts.get('INFO') ?? 0) >= 1 && (counts.get('CONFIG') ?? 0) >= 1, `counts ${JSON.stringify([...counts])}`);
  });

  it("our own fields never shadow a Pika field in the exporter's key map", async () => {
    const info = (await d.admin.call('INFO', 'ALL')) as string;
    const [pika, ours] = info.split('\r\n# Migrate\r\n');
    const pikaKeys = new Set(extract(pika).keys());
    for (const k of extract(ours).keys()) assert.ok(!pikaKeys.has(k), `INFO migrate field ${k} would override Pika's`);
    // Replication's extra fields come after Pika's and are ours too.
    const repl = extract((await d.admin.call('INFO', 'REPLICATION')) as string);
    for (const k of ['master_family', 'lag_entries', 'lag_seconds', 'applied_binlog_offset']) assert.ok(repl.has(k));
  });
});

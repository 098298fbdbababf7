/** Prometheus metrics scraped over HTTP from a daemon that follows a test master, and parsed. */
import { strict as assert } from 'node:assert';
import { get } from 'node:http';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../replication/support.js';
import { ackedUpTo, startAll, untilIncremental } from './support.js';

function scrape(port: number, path = '/metrics'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    }).on('error', reject);
  });
}

/** Prometheus text format → `name{labels}` → value (HELP/TYPE lines skipped). */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m !== null, `not a sample line: ${line}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

describe('metrics', () => {
  it('serves phase, counts, offsets, lag and sink figures in the Prometheus text format', async () => {
    const metricsPort = await freePort();
    const { target, master, d, done } = await startAll('C', '3.5.5', { 'metrics-port': String(metricsPort) });
    try {
      const idle = parse((await scrape(metricsPort)).body);
      assert.equal(idle.get('pika_migrate_phase{phase="idle"}'), 1);
      assert.equal(idle.get('pika_migrate_master_link_up'), 0);
      await d.admin.call('SLAVEOF', '127.0.0.1', String(master.port), 'force');
      await untilIncremental(d);
      let end = master.write(['set', 'm:1', 'v']);
      for (let i = 0; i < 8; i++) end = master.write(['incr', 'm:ctr']);
      // The canary, as an operator's cron writes it on the master: its own timestamp, 50 ms ago.
      end = master.write(['set', 'pika-migrate:canary', String(Date.now() - 50)]);
      await waitFor('acked', ackedUpTo(master, end), 15_000);
      const r = await scrape(metricsPort);
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      const m = parse(r.body);
      assert.equal(m.get('pika_migrate_phase{phase="incremental"}'), 1);
      assert.equal(m.get('pika_migrate_phase{phase="idle"}'), 0);
      assert.equal(m.get('pika_migrate_master_link_up'), 1);
      assert.equal(m.get('pika_migrate_in_sync'), 1);
      assert.equal(m.get('pika_migrate_binlog_entries_total'), 10);
      assert.equal(m.get('pika_migrate_binlog_offset_bytes{db="0",position="applied"}'), end.offset);
      assert.equal(m.get('pika_migrate_binlog_filenum{db="0",position="master"}'), end.filenum);
      assert.equal(m.get('pika_migrate_lag_entries{db="0"}'), 0);
      assert.ok((m.get('pika_migrate_load_keys_total{type="string"}') ?? 0) > 10);
      assert.ok((m.get('pika_migrate_load_keys_total{type="zset"}') ?? 0) > 0);
      assert.ok((m.get('pika_migrate_sink_commands_acked_total') ?? 0) > 100);
      assert.equal(m.get('pika_migrate_sink_queue_depth{sender="0"}'), 0);
      assert.ok((m.get('pika_migrate_process_resident_memory_bytes') ?? 0) > 10e6);
      const delay = m.get('pika_migrate_canary_delay_seconds') ?? -1;
      assert.ok(delay >= 0.05 && delay < 5, `canary delay ${delay} s`);
      const info = await d.info('migrate');
      assert.ok(Number(info.get('canary_delay_ms')) >= 50);
      assert.equal(await target.client().exists('pika-migrate:canary'), 1, 'the canary travels like any write');
      assert.equal((await scrape(metricsPort, '/nope')).status, 404);
      // Rate limits change at run time.
      assert.equal(await d.admin.call('CONFIG', 'SET', 'target-max-ops', '5000'), 'OK');
      assert.equal((await d.info('migrate')).get('target_max_ops'), '5000');
      assert.deepEqual(await d.admin.call('CONFIG', 'GET', 'target-max-ops'), ['target-max-ops', '5000']);
      await assert.rejects(d.admin.call('CONFIG', 'SET', 'target-max-bytes', 'lots'), /CONFIG SET target-max-bytes: expected an integer, got "lots"/);
      await assert.rejects(d.admin.call('CONFIG', 'SET', 'redis-sender-num', '3'), /not changeable while running/);
    } finally {
      await done();
    }
  });
});

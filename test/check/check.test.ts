/**
 * `pika-migrate check` against real Pika masters (3.2.7, 3.5.5, 4.0.1) and real redis-servers set
 * up to fail one check each; verdicts are read from --json, the exit code from the process.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { startRedis, freePort, type RedisServer } from '../helpers/redis.js';
import { REAL_PIKA_VERSIONS, startRealPika, type RealPika } from '../helpers/real-pika.js';
import { tempDir } from '../replication/support.js';
import { startCluster } from '../helpers/cluster.js';
import type { CheckItem, CheckReport } from '../../src/check/verdict.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

const work = tempDir('pm-check-');
const FAST = ['--json', '--binlog-sample', '300', '--probe-writes', '500', '--count-wait', '8000', '--sample', '200'];

interface Run {
  readonly code: number | null;
  readonly report: CheckReport | null;
  readonly stderr: string;
}

/** Runs the CLI in its own process (async: the master and Redis live in this one). */
async function check(conf: Record<string, string | number>, args: string[] = FAST): Promise<Run> {
  const f = join(work, `${Math.random().toString(36).slice(2)}.conf`);
  // Our admin port: check binds port+1000 briefly for a 3.2 master.
  const lines = { port: await freePort(), 'log-path': join(work, 'log'), 'db-sync-path': join(work, 'dbsync'), ...conf };
  writeFileSync(f, Object.entries(lines).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, cliArgs('check', '-c', f, ...args), { stdio: ['ignore', 'pipe', 'pipe'], env: shippedEnv() });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(t);
      let report: CheckReport | null = null;
      try {
        report = JSON.parse(out) as CheckReport;
      } catch {
        report = null;
      }
      resolve({ code, report, stderr: err + out });
    });
  });
}

function item(r: Run, id: string): CheckItem {
  assert.ok(r.report, `no JSON report: ${r.stderr}`);
  const i = r.report.items.find((x) => x.id === id);
  assert.ok(i, `no item ${id} in ${r.report.items.map((x) => x.id).join(', ')}`);
  return i;
}

async function fill(c: Redis, family: string): Promise<void> {
  const p = c.pipeline();
  for (let i = 0; i < 300; i++) {
    p.set(`s:${i}`, `v${i}`);
    p.hset(`h:${i}`, 'f', 'v');
    p.zadd(`z:${i}`, i, 'm');
  }
  await p.exec();
  // 3.x lets one name hold several types.
  if (family !== 'D') {
    await c.set('a:multi', 'v');
    await c.hset('a:multi', 'f', 'v');
  }
  // Incompressible bytes, so that db_size is well above 1 MB once flushed.
  const big = c.pipeline();
  for (let i = 0; i < 2000; i++) big.set(`big:${i}`, Buffer.from(Array.from({ length: 1024 }, () => Math.floor(Math.random() * 256))));
  await big.exec();
}

const minimalAcl = 'on >pw resetkeys ~* resetchannels -@all +@write +get +exists +type +scan +hexists +hgetall +ping +info +select +evalsha +script|load +client|setname +multi +exec +client|info +client|kill';

for (const version of REAL_PIKA_VERSIONS) {
  describe(`check against a real Pika ${version}`, { timeout: 240_000 }, () => {
    let pika: RealPika;
    let redis: RedisServer;
    let base: Record<string, string | number>;
    before(async () => {
      pika = await startRealPika(version);
      await fill(pika.client(), pika.family);
      redis = await startRedis();
      base = { slaveof: `127.0.0.1:${pika.port}`, 'target-redis-host': '127.0.0.1', 'target-redis-port': redis.port };
    });
    after(async () => {
      await redis?.stop();
      await pika?.destroy();
    });

    it('a sound setup: exit 0, version and family found, every port reachable, the sample sees the data', async () => {
      // The master writes while check samples its binlog offset twice.
      const writer = pika.client();
      let writing = true;
      const writes = (async () => {
        for (let i = 0; writing; i++) await writer.set(`live:${i % 100}`, 'x'.repeat(100));
      })();
      const r = await check(base).finally(() => (writing = false));
      await writes;
      assert.equal(r.code, 0, r.stderr);
      assert.ok((item(r, 'capacity.binlog').data?.binlogBytesPerSec as number) > 0, JSON.stringify(item(r, 'capacity.binlog')));
      assert.equal(item(r, 'master.version').data?.family, pika.family);
      assert.equal(item(r, 'master.port+2000').verdict, 'ok');
      if (pika.family === 'A') {
        assert.equal(item(r, 'network.back-connection').verdict, 'ok');
        assert.ok(!r.report!.items.some((i) => i.id === 'master.port+10001'));
      } else {
        assert.equal(item(r, 'master.port+10001').verdict, 'ok');
      }
      assert.equal(item(r, 'master.databases').verdict, 'ok');
      assert.equal(item(r, 'target.acl').verdict, 'ok');
      assert.equal(item(r, 'target.existing-keys').verdict, 'ok');
      assert.equal(item(r, 'capacity.memory').verdict, 'ok');
      const keys = item(r, 'capacity.keys');
      assert.ok((keys.data?.total as number) >= 2900, JSON.stringify(keys));
      // Pika's own count, not RocksDB's estimate.
      assert.equal(keys.data?.estimated, false, JSON.stringify(keys));
      assert.equal(item(r, 'capacity.eta').verdict, 'ok');
      assert.equal(item(r, 'capacity.binlog').verdict, 'ok');
      assert.equal(item(r, 'capacity.disk').verdict, 'ok');
      const multi = item(r, 'types.multi-type');
      if (pika.family === 'D') assert.equal(multi.verdict, 'ok');
      else {
        assert.equal(multi.verdict, 'warn', multi.detail);
        assert.equal(multi.data?.names, 1);
      }
      // Nothing of ours is left on the target.
      assert.deepEqual(await redis.client().keys('pika-migrate:*'), []);
    });

    if (version === '3.2.7') {
      it('HyperLogLogs and NaN zset scores are found by the sample', async () => {
        const c = pika.client();
        await c.pfadd('a:hll', 'x', 'y');
        await c.zadd('a:nan', 'inf', 'm');
        // 3.2.7 stores inf + -inf as NaN (Redis refuses it).
        assert.equal(await c.zincrby('a:nan', '-inf', 'm'), 'nan');
        try {
          const r = await check(base);
          assert.equal(r.code, 0, r.stderr);
          const inexact = item(r, 'types.inexact');
          assert.equal(inexact.verdict, 'warn', inexact.detail);
          assert.deepEqual(inexact.data, { hll: 1, nan: 1 });
        } finally {
          await c.del('a:hll', 'a:nan');
        }
      });

      it('port+1000 held by another process fails network.back-connection', async () => {
        const port = await freePort();
        const holder = createServer();
        await new Promise<void>((resolve, reject) => {
          holder.once('error', reject);
          holder.listen(port + 1000, '127.0.0.1', resolve);
        });
        try {
          const r = await check({ ...base, port, bind: '127.0.0.1' });
          assert.equal(r.code, 1);
          const back = item(r, 'network.back-connection');
          assert.equal(back.verdict, 'fail');
          assert.match(back.detail, new RegExp(`127\\.0\\.0\\.1:${port + 1000}.*EADDRINUSE`));
        } finally {
          await new Promise((resolve) => holder.close(resolve));
        }
      });
    }

    if (version !== '3.5.5') return;

    it('a Redis Cluster target: every slot served passes; a slot without a master, or a cluster the conf does not name, fails', async () => {
      const cluster = await startCluster(3);
      try {
        const conf = { ...base, 'target-redis-port': cluster.nodes[0].port, 'target-redis-cluster': 'yes' };
        const r = await check(conf);
        assert.ok(!r.report?.items.some((i) => i.id === 'target.error'), JSON.stringify(r.report?.items.find((i) => i.id === 'target.error')));
        assert.equal(item(r, 'target.cluster').verdict, 'ok', item(r, 'target.cluster').detail);
        assert.equal(item(r, 'target.write-rate').verdict, 'ok', item(r, 'target.write-rate').detail);
        assert.equal(r.code, 0, JSON.stringify(r.report?.items.filter((i) => i.verdict === 'fail')));
        const plain = await check({ ...base, 'target-redis-port': cluster.nodes[0].port });
        assert.equal(plain.code, 1);
        assert.match(item(plain, 'target.cluster').fix ?? '', /target-redis-cluster : yes/);
        const owner = cluster.nodes[await cluster.ownerOf(100)].client();
        await owner.call('CLUSTER', 'DELSLOTS', '100');
        const holed = await check(conf);
        assert.equal(holed.code, 1);
        assert.match(item(holed, 'target.cluster').detail, /slot 100 is served by no master/);
      } finally {
        await cluster.stop();
      }
    });

    it('an ACL user without +evalsha fails target.acl (by ACL DRYRUN and by running the commands)', async () => {
      const admin = redis.client();
      await admin.call('ACL', 'SETUSER', 'noeval', ...minimalAcl.replace('+evalsha', '').split(' ').filter((w) => w !== ''));
      await admin.call('ACL', 'SETUSER', 'noeval-dry', ...minimalAcl.replace('+evalsha', '+acl|dryrun').split(' '));
      for (const [user, method] of [['noeval', /running each command/], ['noeval-dry', /ACL DRYRUN/]] as const) {
        const r = await check({ ...base, 'target-redis-user': user, 'target-redis-pwd': 'pw' });
        assert.equal(r.code, 1, r.stderr);
        const acl = item(r, 'target.acl');
        assert.equal(acl.verdict, 'fail');
        assert.match(acl.detail, /evalsha/);
        assert.match(String(acl.data?.method), method);
        assert.deepEqual(acl.data?.denied instanceof Array ? (acl.data.denied as string[]).map((d) => d.split(' ')[0]) : [], ['evalsha']);
      }
      // The minimal user of the README passes.
      await admin.call('ACL', 'SETUSER', 'minimal', ...minimalAcl.split(' '));
      const ok = await check({ ...base, 'target-redis-user': 'minimal', 'target-redis-pwd': 'pw' });
      assert.equal(item(ok, 'target.acl').verdict, 'ok', item(ok, 'target.acl').detail);
      // Without the commands of the faster string batches: a warning that names them, no failure.
      await admin.call('ACL', 'SETUSER', 'slower', ...minimalAcl.replace(' +multi +exec +client|info +client|kill', '').split(' '));
      const slower = await check({ ...base, 'target-redis-user': 'slower', 'target-redis-pwd': 'pw' });
      assert.equal(item(slower, 'target.acl').verdict, 'warn', item(slower, 'target.acl').detail);
      assert.match(item(slower, 'target.acl').detail, /multi, exec, client info, client kill/);
      assert.deepEqual(await admin.keys('pika-migrate:*'), []);
    });

    it('a target whose maxmemory cannot hold the data fails capacity.memory', async () => {
      const small = await startRedis(['--maxmemory', '2mb']);
      try {
        const r = await check({ ...base, 'target-redis-port': small.port });
        assert.equal(r.code, 1, r.stderr);
        const m = item(r, 'capacity.memory');
        assert.equal(m.verdict, 'fail', m.detail);
        assert.match(m.fix ?? '', /maxmemory/);
      } finally {
        await small.stop();
      }
    });

    it('keys already on the target: conflict-policy fail blocks, merge warns', async () => {
      const c = redis.client({ db: 0 });
      await c.set('already', 'here');
      try {
        const failing = await check({ ...base, 'conflict-policy': 'fail' });
        assert.equal(failing.code, 1);
        assert.equal(item(failing, 'target.existing-keys').verdict, 'fail');
        const merging = await check(base);
        assert.equal(item(merging, 'target.existing-keys').verdict, 'warn');
        assert.match(item(merging, 'target.existing-keys').detail, /db0: 1/);
      } finally {
        await c.del('already');
      }
    });

    it('an unreachable master port fails master.port; the target is still checked', async () => {
      const r = await check({ ...base, slaveof: `127.0.0.1:${await freePort()}` });
      assert.equal(r.code, 1);
      assert.equal(item(r, 'master.port').verdict, 'fail');
      assert.equal(item(r, 'target.connect').verdict, 'ok');
    });

    it('databases that differ from the master fail master.databases', async () => {
      const r = await check({ ...base, databases: 2 });
      assert.equal(r.code, 1);
      assert.match(item(r, 'master.databases').fix ?? '', /databases : 1/);
    });

    it('a masterauth for a master without requirepass warns and goes on', async () => {
      const r = await check({ ...base, masterauth: 'unneeded' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(item(r, 'master.auth-unused').verdict, 'warn');
      assert.equal(item(r, 'master.auth').verdict, 'ok');
    });

    it('no slaveof and no --source is bad usage: exit 2', async () => {
      const r = await check({ 'target-redis-port': redis.port });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /slaveof/);
    });
  });
}

describe('check against a real Pika 3.2.7 in sharding mode', { timeout: 120_000 }, () => {
  let pika: RealPika;
  let redis: RedisServer;
  before(async () => {
    pika = await startRealPika('3.2.7', { conf: { 'instance-mode': 'sharding' } });
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    await pika?.destroy();
  });

  it('fails master.databases: a sharding master cannot be followed', async () => {
    const r = await check({ slaveof: `127.0.0.1:${pika.port}`, 'target-redis-port': redis.port });
    assert.equal(r.code, 1);
    assert.match(item(r, 'master.databases').detail, /instance-mode : sharding/);
  });
});

describe('check against a real Pika 3.2.7 with two DBs', { timeout: 120_000 }, () => {
  let pika: RealPika;
  let redis: RedisServer;
  before(async () => {
    pika = await startRealPika('3.2.7', { conf: { databases: 2 } });
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    await pika?.destroy();
  });

  it('db-map routes are shown, and keys already in a mapped Redis DB are found', async () => {
    await redis.client({ db: 5 }).set('in-db5', 'x');
    const r = await check({ slaveof: `127.0.0.1:${pika.port}`, 'target-redis-port': redis.port, databases: 2, 'db-map': '1:5' });
    assert.equal(r.code, 0, r.stderr);
    const dbs = item(r, 'master.databases');
    assert.equal(dbs.verdict, 'ok');
    assert.match(dbs.detail, /db0→Redis 0, db1→Redis 5/);
    const existing = item(r, 'target.existing-keys');
    assert.equal(existing.verdict, 'warn');
    assert.match(existing.detail, /^db5: 1 /);
    // Without --json: a line per item, the fix under a warning, the overall verdict last.
    const table = await check({ slaveof: `127.0.0.1:${pika.port}`, 'target-redis-port': redis.port, databases: 2, 'db-map': '1:5' }, FAST.filter((a) => a !== '--json'));
    assert.equal(table.code, 0);
    assert.match(table.stderr, /^ok {4}master\.databases +2 DBs: db0→Redis 0, db1→Redis 5$/m);
    assert.match(table.stderr, /^WARN {2}target\.existing-keys .*\n +fix: empty the target DBs/m);
    assert.match(table.stderr, /pre-flight: nothing blocks the migration \(\d+ warnings\)\n$/);
  });
});

for (const version of REAL_PIKA_VERSIONS) describe(`check against a real Pika ${version} with requirepass`, { timeout: 120_000 }, () => {
  let pika: RealPika;
  let redis: RedisServer;
  before(async () => {
    pika = await startRealPika(version, { conf: { requirepass: 'secret' } });
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    await pika?.destroy();
  });

  it('a wrong or missing masterauth fails master.auth and names masterauth; the right one passes', async () => {
    const conf = { slaveof: `127.0.0.1:${pika.port}`, 'target-redis-port': redis.port };
    const bad = await check({ ...conf, masterauth: 'wrong' });
    assert.equal(bad.code, 1);
    const auth = item(bad, 'master.auth');
    assert.equal(auth.verdict, 'fail');
    assert.match(auth.fix ?? '', /masterauth/);
    const none = await check(conf);
    assert.equal(none.code, 1);
    assert.equal(item(none, 'master.auth').verdict, 'fail');
    const good = await check({ ...conf, masterauth: 'secret' });
    assert.equal(item(good, 'master.auth').verdict, 'ok');
    assert.equal(good.code, 0, JSON.stringify(good.report?.items.filter((i) => i.verdict === 'fail')));
  });
});

after(() => rmSync(work, { recursive: true, force: true }));

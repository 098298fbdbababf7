import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { AdminServer } from '../../src/admin/server.js';
import { runAdminCommand, type AdminContext } from '../../src/admin/commands.js';
import { renderInfo } from '../../src/admin/info.js';
import { RequestParser, ProtocolError } from '../../src/admin/resp.js';
import { silentLogger } from '../../src/core/log.js';
import { redisCli } from './helpers.js';

let password = '';
const calls: string[] = [];
let master: { host: string; port: number } | null = null;
const ctx: AdminContext = {
  requirepass: () => Buffer.from(password),
  info: (section) =>
    renderInfo(
      {
        server: [['pika_migrate_version', '0.1.0'], ['tcp_port', 1]],
        data: [['db_size', 0]],
        clients: [['connected_clients', 1]],
        stats: [['total_commands_processed', 0]],
        commandExecCount: [['INFO', 1]],
        cpu: [['used_cpu_sys', '0.00']],
        keyspace: { time: '2026-01-02 03:04:05', durationSeconds: 0, dbs: [] },
        replication: { master, replicationId: '', dbs: [{ db: 0, state: master ? 'no_connect' : 'no_connect', applied: { filenum: 3, offset: 77 } }], fullSyncRunning: false, extra: [['lag_seconds', 0]] },
        migrate: [['phase', 'idle']],
      },
      section,
    ),
  slaveof: async (host, port, force) => {
    if (host === 'self') throw new Error('The master ip:port and the slave ip:port are the same');
    master = { host, port };
    calls.push(`slaveof ${host} ${port} ${force}`);
  },
  slaveofNoOne: async () => {
    master = null;
    calls.push('no one');
  },
  configValues: () => new Map([['port', '9222'], ['target-redis-host', '127.0.0.1'], ['sync-batch-num', '100']]),
  configSet: (key, value) => {
    if (key !== 'target-max-ops') throw new Error(`CONFIG SET ${key}: not changeable while running`);
    calls.push(`config set ${key} ${value}`);
  },
  shutdown: () => calls.push('shutdown'),
  executed: () => {},
};

let server: AdminServer;
let port = 0;
before(async () => {
  server = new AdminServer({ host: '127.0.0.1', port: 0, logger: silentLogger(), needsAuth: () => password !== '', handle: (argv, s) => runAdminCommand(argv, s, ctx) });
  port = (await server.listen()).port;
});
after(() => server.close());

test('answers PING, ECHO and unknown commands like Redis through redis-cli', async () => {
  assert.equal((await redisCli(port, ['ping'])).trim(), 'PONG');
  assert.equal((await redisCli(port, ['echo', 'hi there'])).trim(), 'hi there');
  assert.match(await redisCli(port, ['flushall']), /ERR unknown command 'flushall'/);
  assert.match(await redisCli(port, ['get']), /ERR unknown command 'get'/);
});

test('SLAVEOF host port [force], REPLICAOF and SLAVEOF NO ONE reach the daemon', async () => {
  calls.length = 0;
  assert.equal((await redisCli(port, ['slaveof', '127.0.0.1', '9221', 'force'])).trim(), 'OK');
  assert.equal((await redisCli(port, ['replicaof', '127.0.0.1', '9223'])).trim(), 'OK');
  assert.match(await redisCli(port, ['slaveof', '127.0.0.1', 'x']), /ERR Invalid master port/);
  assert.match(await redisCli(port, ['slaveof', '127.0.0.1', '1', 'now']), /ERR syntax error/);
  assert.match(await redisCli(port, ['slaveof', 'self', '1']), /ERR The master ip:port and the slave ip:port are the same/);
  assert.equal((await redisCli(port, ['slaveof', 'no', 'one'])).trim(), 'OK');
  assert.deepEqual(calls, ['slaveof 127.0.0.1 9221 true', 'slaveof 127.0.0.1 9223 false', 'no one']);
});

test('INFO replication is in Pika replica format', async () => {
  master = { host: '10.0.0.1', port: 9221 };
  const out = await redisCli(port, ['info', 'replication']);
  master = null;
  const lines = out.split(/\r?\n/);
  assert.equal(lines[0], '# Replication(SLAVE)');
  for (const l of ['role:slave', 'master_host:10.0.0.1', 'master_port:9221', 'master_link_status:down', 'repl_connect_status:', 'db0:no_connect', 'db_repl_state:(db0:NoConnect)', 'db0 binlog_offset=3 77,safety_purge=none', 'lag_seconds:0']) {
    assert.ok(lines.includes(l), `missing ${l} in\n${out}`);
  }
  const all = await redisCli(port, ['info']);
  assert.match(all, /# Server[\s\S]*# Replication\(MASTER\)[\s\S]*role:master[\s\S]*# Migrate\r?\nphase:idle/);
  assert.equal((await redisCli(port, ['info', 'nosuchsection'])).trim(), '');
});

test('CONFIG GET matches globs (case-insensitive); CONFIG SET reaches the daemon; other subcommands are refused', async () => {
  assert.deepEqual((await redisCli(port, ['config', 'get', 'target-*'])).trim().split('\n'), ['target-redis-host', '127.0.0.1']);
  assert.deepEqual((await redisCli(port, ['config', 'get', 'PORT'])).trim().split('\n'), ['port', '9222']);
  assert.equal((await redisCli(port, ['config', 'set', 'TARGET-MAX-OPS', '500'])).trim(), 'OK');
  assert.ok(calls.includes('config set target-max-ops 500'));
  assert.match(await redisCli(port, ['config', 'set', 'port', '1']), /ERR CONFIG SET port: not changeable while running/);
  assert.match(await redisCli(port, ['config', 'set', 'port']), /ERR wrong number of arguments for 'config\|set'/);
  assert.match(await redisCli(port, ['config', 'rewrite']), /ERR CONFIG subcommand 'rewrite' is not supported by pika-migrate \(supported: GET, SET\)/);
});

test('requirepass: NOAUTH before AUTH, WRONGPASS for a bad password, OK after', async () => {
  password = 'pw1';
  try {
    assert.match(await redisCli(port, ['ping']), /NOAUTH Authentication required/);
    assert.match(await redisCli(port, ['info']), /NOAUTH/);
    const wrong = await rawExchange('AUTH nope\r\nPING\r\n');
    assert.equal(wrong.data, '-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n');
    assert.equal((await redisCli(port, ['ping'], { password: 'pw1' })).trim(), 'PONG');
  } finally {
    password = '';
  }
});

test('SHUTDOWN replies OK and asks the daemon to stop', async () => {
  calls.length = 0;
  await redisCli(port, ['shutdown']);
  assert.deepEqual(calls, ['shutdown']);
});

function rawExchange(bytes: Buffer | string, waitMs = 200): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('close', () => (closed = true));
    s.on('error', () => {});
    s.on('connect', () => s.write(bytes));
    setTimeout(() => {
      s.destroy();
      resolve({ data, closed });
    }, waitMs);
  });
}

test('replies to pipelined RESP and inline commands in order', async () => {
  const r = await rawExchange('*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\nPING "x y"\r\n');
  assert.equal(r.data, '+PONG\r\n$3\r\na\r\n\r\n$3\r\nx y\r\n');
});

test('a protocol error gets an error reply and the connection is closed', async () => {
  for (const bad of ['*1\r\n!4\r\nPING\r\n', '*99999999\r\n', '*1\r\n$999999999\r\n', '*1\r\n$-5\r\n', '*1\r\n$2\r\nabcd']) {
    const r = await rawExchange(bad);
    assert.match(r.data, /^-ERR Protocol error: /, bad);
    assert.ok(r.closed, `not closed after ${JSON.stringify(bad)}`);
  }
});

test('survives garbage, half frames, huge announced lengths and clients that never read, with bounded memory', async () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const heapBefore = process.memoryUsage().heapUsed;
  const sockets: Socket[] = [];
  // Random garbage and truncated frames, 200 connections.
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < 200; i++) {
    const len = Math.floor(rnd() * 4096);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = rnd() < 0.3 ? '*$\r\n0123456789'.charCodeAt(Math.floor(rnd() * 15)) : Math.floor(rnd() * 256);
    runs.push(rawExchange(i % 3 === 0 ? Buffer.concat([Buffer.from('*3\r\n$3\r\nSET\r\n$1000000\r\n'), b]) : b, 50));
  }
  await Promise.all(runs);
  // A client that announces a 1 MB bulk and then trickles: held at most a bounded buffer.
  const slow = connect(port, '127.0.0.1');
  slow.on('error', () => {});
  sockets.push(slow);
  slow.write('*2\r\n$4\r\nECHO\r\n$1048576\r\n');
  for (let i = 0; i < 20; i++) slow.write(Buffer.alloc(10_000, 0x61));
  // A client that pipelines many INFOs and never reads its replies.
  const deaf = connect(port, '127.0.0.1');
  deaf.on('error', () => {});
  sockets.push(deaf);
  deaf.pause();
  const many = Buffer.from('INFO\r\n'.repeat(20000));
  for (let i = 0; i < 20; i++) deaf.write(many);
  await new Promise((r) => setTimeout(r, 1500));
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  global.gc?.();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 64 * 1024 * 1024, `heap grew by ${grown} bytes`);
  assert.equal((await redisCli(port, ['ping'])).trim(), 'PONG');
});

test('the request parser refuses to buffer past its limits', () => {
  const p = new RequestParser({ maxLine: 16, maxArgs: 4, maxBulk: 32, maxBuffered: 64 });
  p.push(Buffer.from('x'.repeat(40)));
  assert.throws(() => p.next(), ProtocolError);
  const q = new RequestParser({ maxLine: 16, maxArgs: 4, maxBulk: 32, maxBuffered: 64 });
  q.push(Buffer.from('*5\r\n'));
  assert.throws(() => q.next(), /invalid multibulk length/);
  const r = new RequestParser({ maxLine: 16, maxArgs: 4, maxBulk: 32, maxBuffered: 64 });
  r.push(Buffer.from('*1\r\n$33\r\n'));
  assert.throws(() => r.next(), /invalid bulk length/);
  const ok = new RequestParser();
  ok.push(Buffer.from('*2\r\n$3\r\nGET\r\n$1'));
  assert.equal(ok.next(), undefined);
  ok.push(Buffer.from('\r\nk\r\n'));
  assert.deepEqual(ok.next()?.map(String), ['GET', 'k']);
});

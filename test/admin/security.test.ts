import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServer, isLoopback } from '../../src/admin/server.js';
import { runAdminCommand, type AdminContext } from '../../src/admin/commands.js';
import { ProtocolError, RequestParser, unauthenticatedLimits } from '../../src/admin/resp.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import pino from 'pino';
import { startRedis } from '../helpers/redis.js';
import { replicaPort, tempDir, waitFor } from '../replication/support.js';
import { redisCli } from './helpers.js';
import { cliArgs, shippedEnv } from '../helpers/shipped-cli.js';

/** An admin server on a free loopback port whose commands see `requirepass`. */
async function serve(requirepass: Buffer, opts: { maxClients?: number; logger?: Logger } = {}) {
  const ctx: AdminContext = {
    requirepass: () => requirepass,
    info: () => '# Server\r\n',
    slaveof: async () => {},
    slaveofNoOne: async () => {},
    configValues: () => new Map(),
    configSet: () => {},
    shutdown: () => {},
    executed: () => {},
  };
  const server = new AdminServer({
    host: '127.0.0.1',
    port: 0,
    logger: opts.logger ?? silentLogger(),
    needsAuth: () => requirepass.length > 0,
    handle: (argv, s) => runAdminCommand(argv, s, ctx),
    ...(opts.maxClients !== undefined ? { maxClients: opts.maxClients } : {}),
  });
  const { port } = await server.listen();
  return { server, port };
}

/** A connection that collects what it receives and notes when the server closes it. */
function client(port: number) {
  const s: Socket = connect(port, '127.0.0.1');
  const state = { data: Buffer.alloc(0), closedAt: 0 };
  s.on('data', (d: Buffer) => (state.data = Buffer.concat([state.data, d])));
  s.on('close', () => (state.closedAt = Date.now()));
  s.on('error', () => {});
  const connected = new Promise<void>((resolve) => s.once('connect', () => resolve()));
  return { s, state, connected, text: () => state.data.toString('latin1') };
}

function resp(...args: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n')])]);
}

test('command lookup sees only the command table: constructor, __proto__, toString are unknown commands', async () => {
  const session = { authenticated: true, remote: 'test', closeAfterReply: false };
  const ctx = {} as AdminContext;
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    const r = await runAdminCommand([Buffer.from(name), Buffer.from('x')], session, ctx);
    assert.ok(r instanceof Error, name);
    assert.match(r.message, new RegExp(`^ERR unknown command '${name}'`), name);
  }
});

test('AUTH compares the exact bytes of requirepass from the conf file, not their UTF-8 decoding', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pm-auth-'));
  const file = join(dir, 'pika.conf');
  // 0xff is not UTF-8: decoded, it and 0xfe both become U+FFFD and would compare equal. The
  // trailing 0xa0 is the end of a UTF-8 character (à), not a blank to trim.
  writeFileSync(file, Buffer.concat([Buffer.from('port : 9222\nrequirepass : pw '), Buffer.from([0xff, 0xc3, 0xa0]), Buffer.from('\n')]));
  const config = loadConfig(file, {});
  const want = Buffer.from([0x70, 0x77, 0x20, 0xff, 0xc3, 0xa0]);
  assert.deepEqual(config.secretBytes('requirepass'), want);
  const { server, port } = await serve(config.secretBytes('requirepass'));
  try {
    const wrong = [Buffer.from([0x70, 0x77, 0x20, 0xfe, 0xc3, 0xa0]), Buffer.from('pw \ufffd\u00e0'), Buffer.from([0x70, 0x77, 0x20, 0xff, 0xc3]), Buffer.alloc(0)];
    for (const pw of wrong) {
      const c = client(port);
      await c.connected;
      c.s.write(Buffer.concat([resp(Buffer.from('AUTH'), pw), resp(Buffer.from('PING'))]));
      await waitFor('two replies', () => c.text().split('\r\n').length >= 3);
      assert.equal(c.text(), '-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n', pw.toString('hex'));
      c.s.destroy();
    }
    const c = client(port);
    await c.connected;
    c.s.write(Buffer.concat([resp(Buffer.from('AUTH'), want), resp(Buffer.from('PING'))]));
    await waitFor('two replies', () => c.text().split('\r\n').length >= 3);
    assert.equal(c.text(), '+OK\r\n+PONG\r\n');
    c.s.destroy();
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('before AUTH the parser allows 10 arguments and 16 KiB per bulk, refusing at the header', () => {
  const p = new RequestParser(unauthenticatedLimits);
  p.push(Buffer.from('*11\r\n'));
  assert.throws(() => p.next(), /unauthenticated multibulk length/);
  const q = new RequestParser(unauthenticatedLimits);
  q.push(Buffer.from('*2\r\n$4\r\nAUTH\r\n$16385\r\n'));
  assert.throws(() => q.next(), /unauthenticated bulk length/);
  // The largest allowed request parses.
  const ok = new RequestParser(unauthenticatedLimits);
  ok.push(resp(Buffer.from('AUTH'), Buffer.alloc(16 * 1024, 0x61)));
  assert.equal(ok.next()?.[1].length, 16 * 1024);
  // An inline request without an end of line is refused once past the line limit.
  const inline = new RequestParser(unauthenticatedLimits);
  inline.push(Buffer.alloc(16 * 1024 + 1, 0x61));
  assert.throws(() => inline.next(), ProtocolError);
  // Many small incomplete-looking pieces cannot pile up past the buffer limit.
  const held = new RequestParser({ ...unauthenticatedLimits, maxBuffered: 1024 });
  held.push(Buffer.from('*2\r\n$4\r\nAUTH\r\n$2000\r\n'));
  assert.equal(held.next(), undefined);
  held.push(Buffer.alloc(1100, 0x61));
  assert.throws(() => held.next(), /query buffer limit exceeded/);
  // After AUTH the server switches to the normal limits: the same parser takes a bigger bulk.
  const after = new RequestParser(unauthenticatedLimits);
  after.limits = { maxLine: 64 * 1024, maxArgs: 1024, maxBulk: 1024 * 1024, maxBuffered: 4 * 1024 * 1024 };
  after.push(resp(Buffer.from('ECHO'), Buffer.alloc(100_000, 0x62)));
  assert.equal(after.next()?.[1].length, 100_000);
});

test('50 unauthenticated clients sending a 1 MiB bulk each are refused and closed quickly, with bounded memory', async () => {
  const { server, port } = await serve(Buffer.from('secret'));
  const rssBefore = process.memoryUsage().rss;
  try {
    const clients: Array<ReturnType<typeof client>> = [];
    const started = Date.now();
    for (let i = 0; i < 50; i++) {
      const c = client(port);
      clients.push(c);
      const big = Buffer.alloc(1024 * 1024, 0x61);
      c.s.write(i % 2 === 0 ? Buffer.concat([Buffer.from(`*2\r\n$4\r\nAUTH\r\n$${big.length}\r\n`), big, Buffer.from('\r\n')]) : big);
    }
    await waitFor('every flooding client closed', () => clients.every((c) => c.state.closedAt > 0), 10_000);
    const slowest = Math.max(...clients.map((c) => c.state.closedAt)) - started;
    assert.ok(slowest < 5000, `the last client was closed after ${slowest} ms`);
    for (const [i, c] of clients.entries()) {
      assert.match(c.text(), i % 2 === 0 ? /^-ERR Protocol error: unauthenticated bulk length\r\n$/ : /^-ERR Protocol error: too big inline request\r\n$/, `client ${i}`);
    }
    const grown = process.memoryUsage().rss - rssBefore;
    // The clients' own 50 MiB of buffers live in this process too; the server holds at most 64 KiB each.
    assert.ok(grown < 200 * 1024 * 1024, `RSS grew by ${grown} bytes`);
    assert.equal(server.connections, 0);
    // An authenticated client is still served, with a bulk larger than the pre-auth limit.
    const c = client(port);
    await c.connected;
    c.s.write(Buffer.concat([resp(Buffer.from('AUTH'), Buffer.from('secret')), resp(Buffer.from('ECHO'), Buffer.alloc(100_000, 0x62))]));
    await waitFor('ECHO reply', () => c.state.data.length >= 5 + 100_000 + 10);
    assert.ok(c.text().startsWith('+OK\r\n$100000\r\n'));
    c.s.destroy();
  } finally {
    await server.close();
  }
});

test('maxclients: one connection more gets -ERR max number of clients reached and is closed', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
  const { server, port } = await serve(Buffer.alloc(0), { maxClients: 3, logger });
  try {
    const held = [client(port), client(port), client(port)];
    for (const c of held) {
      await c.connected;
      c.s.write('PING\r\n');
    }
    await waitFor('three PONGs', () => held.every((c) => c.text() === '+PONG\r\n'));
    const extra = client(port);
    extra.s.write('PING\r\n');
    await waitFor('the extra client closed', () => extra.state.closedAt > 0);
    assert.equal(extra.text(), '-ERR max number of clients reached\r\n');
    assert.equal(server.connections, 3);
    // More refusals within 10 s add no log line: a connection flood is not a log flood.
    const more = [client(port), client(port), client(port)];
    await waitFor('the other extra clients closed', () => more.every((c) => c.state.closedAt > 0));
    assert.equal(lines.filter((l) => l.includes('maxclients (3) reached')).length, 1);
    held[0].s.destroy();
    await waitFor('a slot freed', () => server.connections === 2);
    const next = client(port);
    next.s.write('PING\r\n');
    await waitFor('PONG', () => next.text() === '+PONG\r\n');
    next.s.destroy();
    for (const c of held) c.s.destroy();
  } finally {
    await server.close();
  }
});

test('a client that never reads its replies stops being read, instead of growing our output buffer', async () => {
  const { server, port } = await serve(Buffer.alloc(0));
  try {
    const c = client(port);
    await c.connected;
    c.s.pause();
    const many = Buffer.from('INFO\r\n'.repeat(20_000));
    for (let i = 0; i < 50; i++) c.s.write(many);
    await new Promise((r) => setTimeout(r, 1000));
    // It is held by TCP, still connected; the server answered only what fits in the socket buffers.
    assert.equal(server.connections, 1);
    c.s.destroy();
  } finally {
    await server.close();
  }
});

test('isLoopback: 127.0.0.0/8 and ::1, also IPv4-mapped', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['10.99.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', '128.0.0.1', undefined]) assert.ok(!isLoopback(a), String(a));
});

/** Resident memory of a process, from /proc. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

test('a daemon process flooded by 200 unauthenticated 1 MiB requests keeps its memory', async (t) => {
  const target = await startRedis();
  const dir = tempDir('pm-flood-');
  const port = await replicaPort();
  const conf = join(dir, 'pika.conf');
  writeFileSync(conf, `port : ${port}\nbind : 127.0.0.1\nrequirepass : pw\nlog-path : ${join(dir, 'log')}\ndb-sync-path : ${join(dir, 'dbsync')}\ntarget-redis-port : ${target.port}\n`);
  const daemon = spawn(process.execPath, cliArgs('-c', conf), { stdio: 'ignore', env: shippedEnv() });
  try {
    await waitFor('admin port', async () => (await redisCli(port, ['ping']).catch(() => '')).includes('NOAUTH'), 20_000);
    const idle = rssOf(daemon.pid ?? 0);
    const big = Buffer.concat([Buffer.from(`*2\r\n$4\r\nAUTH\r\n$${1024 * 1024}\r\n`), Buffer.alloc(1024 * 1024, 0x61), Buffer.from('\r\n')]);
    let peak = idle;
    for (let round = 0; round < 4; round++) {
      const clients = Array.from({ length: 50 }, () => client(port));
      for (const c of clients) c.s.write(big);
      await waitFor('every flooding client closed', () => {
        peak = Math.max(peak, rssOf(daemon.pid ?? 0));
        return clients.every((c) => c.state.closedAt > 0);
      }, 10_000);
      for (const c of clients) assert.match(c.text(), /^-ERR Protocol error: unauthenticated bulk length\r\n$/);
    }
    t.diagnostic(`daemon RSS idle ${(idle / 2 ** 20).toFixed(1)} MiB, peak during the flood ${(peak / 2 ** 20).toFixed(1)} MiB`);
    // Unbounded, the 200 MiB announced would be held (and copied); refused at the header, little is.
    assert.ok(peak - idle < 64 * 1024 * 1024, `daemon RSS went from ${idle} to ${peak}`);
    assert.match(await redisCli(port, ['ping'], { password: 'pw' }), /PONG/);
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await target.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The 3.2–3.4 back-connection verdicts for masters on other hosts, which loopback tests cannot
 * start: the master's facts are given, the listening on port+1000 is real.
 */
import { strict as assert } from 'node:assert';
import { networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { checkBackConnection } from '../../src/check/back-connection.js';
import type { MasterFacts } from '../../src/check/master.js';
import { buildConfig } from '../../src/config/load.js';
import type { PikaSource } from '../../src/verify/pika-source.js';
import { freePort } from '../helpers/redis.js';

async function verdictOf(conf: Record<string, string>, master: string, localAddress: string, family = 'A') {
  const port = await freePort();
  const config = buildConfig('t.conf', Object.entries({ port: String(port), ...conf }).map(([key, value], i) => ({ key, value, where: `t.conf:${i + 1}` })));
  const facts: MasterFacts = { address: { host: master, port: 9221 }, pika: { family, version: family === 'A' ? '3.2.7' : '3.5.5' } as PikaSource, info: new Map(), localAddress };
  const items = await checkBackConnection(config, facts);
  assert.equal(items.length, 1);
  return { ...items[0], port };
}

test('a loopback address announced to a master on another host fails: it would push to itself', async () => {
  const r = await verdictOf({}, '10.9.8.7', '127.0.0.1');
  assert.equal(r.verdict, 'fail');
  assert.match(r.detail, /loopback address 127\.0\.0\.1 to a master on 10\.9\.8\.7/);
  assert.match(r.fix ?? '', /network-interface/);
});

test('an announced address that is not this host\'s fails', async () => {
  const r = await verdictOf({}, '10.9.8.7', '10.254.254.254');
  assert.equal(r.verdict, 'fail');
  assert.match(r.detail, /not an address of this host/);
});

test('bind that does not cover the announced address fails', async () => {
  const r = await verdictOf({ bind: '127.0.0.2' }, '127.0.0.1', '127.0.0.1');
  assert.equal(r.verdict, 'fail');
  assert.match(r.fix ?? '', /bind to 127\.0\.0\.1/);
});

test('a remote master and one of our own addresses: warn, unproven, with the firewall rule to add', async (t) => {
  const own = Object.values(networkInterfaces()).flatMap((l) => l ?? []).find((a) => a.family === 'IPv4' && !a.internal);
  if (own === undefined) return t.skip('no non-loopback IPv4 address on this host');
  const r = await verdictOf({}, '10.9.8.7', own.address);
  assert.equal(r.verdict, 'warn');
  assert.match(r.detail, /cannot be proven/);
  assert.match(r.fix ?? '', new RegExp(`-s 10\\.9\\.8\\.7 --dport ${r.port + 1000}`));
});

test('3.5+ masters need no back-connection', async () => {
  const r = await verdictOf({}, '10.9.8.7', '127.0.0.1', 'C');
  assert.equal(r.verdict, 'ok');
  assert.match(r.detail, /not needed/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./protected-mode-child.ts', import.meta.url));

// A user + network namespace of our own: its loopback gets a second, non-loopback address, so a
// client "from another host" is real without touching the machine's network.
const canUnshare = spawnSync('unshare', ['-rn', 'true']).status === 0;

interface Probe {
  readonly reply: string;
  readonly closed: boolean;
}

test('protected mode: with no requirepass, a daemon bound to 0.0.0.0 serves loopback clients and DENIES others', { skip: canUnshare ? false : 'unshare -rn is not permitted here' }, async () => {
  const script = `ip link set lo up && ip addr add 10.99.0.1/32 dev lo && exec "${process.execPath}" --import tsx "${child}"`;
  const { stdout } = await run('unshare', ['-rn', 'sh', '-c', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 60_000 });
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, { loopback: Probe; other: Probe; logs: string[] }>;

  assert.equal(r.default.loopback.reply, '+PONG\r\n');
  assert.match(r.default.other.reply, /^-DENIED pika-migrate is running in protected mode .*set requirepass.*bind to a loopback address.*protected-mode : no.*\r\n$/);
  assert.ok(r.default.other.closed, 'the denied client is disconnected');

  // A password lifts the restriction: the other host is served (and asked to AUTH).
  assert.equal(r.requirepass.other.reply, '-NOAUTH Authentication required.\r\n');
  assert.ok(!r.requirepass.other.closed);
  assert.equal(r.requirepass.loopback.reply, '-NOAUTH Authentication required.\r\n');

  assert.equal(r['protected-mode-no'].other.reply, '+PONG\r\n');

  // What the start-up log says about it.
  assert.deepEqual(r.default.logs, [
    'protected mode: no requirepass, so the admin port serves loopback clients only (see README, Security)',
    'admin client refused: protected mode (no requirepass, client not on loopback)',
  ]);
  assert.deepEqual(r.requirepass.logs, []);
  assert.match(r['protected-mode-no'].logs.join(), /protected-mode is no and requirepass is empty: anyone who reaches the admin port can SLAVEOF/);
  // Bound to a non-loopback address, every client is non-loopback: all are denied, and the log says so.
  assert.match(r['bind-other'].other.reply, /^-DENIED /);
  assert.match(r['bind-other'].logs.join(), /every admin client will be DENIED/);
});

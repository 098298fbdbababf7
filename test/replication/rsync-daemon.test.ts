/**
 * The rsync daemon an A/B master pushes into: what its conf lets through (the real rsync client
 * pushing as the master does), and that it never outlives the process that started it.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RsyncDaemon } from '../../src/replication/rsync-daemon.js';
import { runsWith, staleProcesses } from '../../src/replication/tied-process.js';
import { RecordingHandler, replicaPort, tempDir, testLogger, waitFor } from './support.js';
import { SNAP_A, setupReplica } from './setup-replica.js';

function rsync(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('rsync', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('exit', (code) => resolve({ code, stderr }));
  });
}

const refused = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });

const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));

describe('rsync daemon: what the conf lets in', () => {
  let root: string;
  let work: string;
  let port: number;
  let daemon: RsyncDaemon;
  before(async () => {
    work = tempDir('pm-rsyncd-');
    root = join(work, 'dbsync');
    mkdirSync(join(root, 'db0', 'strings'), { recursive: true });
    writeFileSync(join(root, 'pika-migrate-db0.checkpoint.json'), 'checkpoint');
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'src', '000001.sst'), 'sst bytes');
    writeFileSync(join(work, 'pw'), 'default', { mode: 0o600 });
    port = (await replicaPort()) + 1000;
    daemon = new RsyncDaemon({ root, port, address: '127.0.0.1', allowFrom: ['127.0.0.1'], password: '', logger: testLogger() });
    daemon.grant(join(root, 'db0'));
    await daemon.start();
  });
  after(async () => {
    await daemon?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const push = (src: string, dest: string, extra: string[] = []) =>
    rsync(['-avP', `--password-file=${join(work, 'pw')}`, `--port=${port}`, ...extra, src, `rsync_user@127.0.0.1::document/${dest}`]);

  it('listens on the address the master pushes to, not on every interface', async () => {
    assert.equal(await refused('127.0.0.1', port), false);
    assert.equal(await refused('127.0.0.2', port), true, 'another loopback address');
    assert.match(readFileSync(daemon.confFile, 'utf8'), /^hosts allow = 127\.0\.0\.1$/m);
  });

  it('takes the master push into dbN/', async () => {
    const r = await push(`${join(work, 'src')}/`, 'db0/strings/');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(root, 'db0/strings/000001.sst'), 'utf8'), 'sst bytes');
    if (daemon.dropTo !== null) assert.equal(statSync(join(root, 'db0/strings/000001.sst')).uid, daemon.dropTo.uid, 'written as nobody');
  });

  it('refuses writes beside the snapshot (checkpoint, its own secrets and conf), reads, and other addresses', async () => {
    const sst = join(work, 'src', '000001.sst');
    for (const dest of ['pika-migrate-db0.checkpoint.json', 'rsync/slash_rsync.secret', 'rsync/slash_rsync.conf', 'spool-db0.bin']) {
      const r = await push(sst, dest);
      assert.notEqual(r.code, 0, `${dest} written`);
    }
    assert.equal(readFileSync(join(root, 'pika-migrate-db0.checkpoint.json'), 'utf8'), 'checkpoint');
    assert.match(readFileSync(join(root, 'rsync/slash_rsync.secret'), 'utf8'), /^rsync_user:default\n$/);
    assert.equal(existsSync(join(root, 'spool-db0.bin')), false);
    const down = await rsync([`--password-file=${join(work, 'pw')}`, `--port=${port}`, 'rsync_user@127.0.0.1::document/db0/strings/000001.sst', join(work, 'down')]);
    assert.notEqual(down.code, 0, 'the snapshot can be read back');
    const other = await push(`${join(work, 'src')}/`, 'db0/strings/', ['--address=127.0.0.2']);
    assert.notEqual(other.code, 0, 'a push from 127.0.0.2 got in');
    assert.deepEqual(daemon.deniedAddresses(), ['127.0.0.2']);
  });

  it('as root: chrooted, and the transfer runs as nobody when the root can be entered', { skip: process.getuid?.() !== 0 }, () => {
    const conf = readFileSync(daemon.confFile, 'utf8');
    assert.match(conf, /^use chroot = yes$/m);
    assert.ok(daemon.dropTo !== null && daemon.dropTo.uid !== 0);
    assert.match(conf, new RegExp(`^uid = ${daemon.dropTo.uid}$`, 'm'));
    assert.equal(statSync(join(root, 'rsync/slash_rsync.secret')).mode & 0o077, 0);
  });
});

const child = join(import.meta.dirname, 'rsync-daemon-child.ts');

describe('rsync daemon: never outlives us', () => {
  let work: string;
  let port: number;
  const spawned: ChildProcess[] = [];
  before(async () => {
    work = tempDir('pm-rsyncd-own-');
    mkdirSync(join(work, 'dbsync'));
    chmodSync(join(work, 'dbsync'), 0o755);
    port = (await replicaPort()) + 1000;
  });
  after(async () => {
    for (const c of spawned) c.kill('SIGKILL');
    // A daemon that did outlive its parent (the test failing) must not outlive the test.
    const conf = join(work, 'dbsync/rsync/slash_rsync.conf');
    for (const pid of staleProcesses(join(work, 'dbsync/rsync/slash_rsync.pid'), 'rsync', `--config=${conf}`)) process.kill(pid, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('dies with the process that started it, even on kill -9', async () => {
    const c = spawn(process.execPath, ['--import', 'tsx', child, join(work, 'dbsync'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    spawned.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the child says its daemon pid', () => /pid \d+\n/.test(out), 20_000);
    const pid = Number(/pid (\d+)/.exec(out)![1]);
    const conf = `--config=${join(work, 'dbsync/rsync/slash_rsync.conf')}`;
    const argv = () => (existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ') : 'gone');
    assert.ok(runsWith(pid, 'rsync', conf), `pid ${pid} runs: ${argv()}; child said: ${out}`);
    c.kill('SIGKILL');
    await exited(c);
    await waitFor('the rsync daemon gone', () => !runsWith(pid, 'rsync', conf), 3000);
    // The port may take a connection a moment after the daemon is gone (CI saw it once): it must end.
    await waitFor('its port free', () => refused('127.0.0.1', port), 3000);
  });

  it('kills the daemon an earlier run left behind (pid file and conf are ours), then binds its port', async () => {
    const dbsync = join(work, 'dbsync');
    const first = new RsyncDaemon({ root: dbsync, port, address: '127.0.0.1', allowFrom: ['127.0.0.1'], password: '', logger: testLogger() });
    // What a kill -9 without setpriv leaves: an rsync daemon on our conf that is not our child any more.
    const stale = spawn('rsync', ['--daemon', '--no-detach', `--config=${first.writeConfig()}`, '--address=127.0.0.1', `--port=${port}`], { stdio: 'ignore', detached: true });
    spawned.push(stale);
    await waitFor('the stale daemon listening', async () => !(await refused('127.0.0.1', port)), 5000);
    await waitFor('its pid file', () => existsSync(first.pidFile), 5000);
    await first.start();
    try {
      await exited(stale);
      assert.equal(stale.signalCode, 'SIGKILL');
      assert.notEqual(first.pid, stale.pid);
      assert.equal(readFileSync(first.pidFile, 'utf8').trim(), String(first.pid));
    } finally {
      await first.stop();
    }
  });

  it('kills it on a resume too, which needs no daemon of its own', async () => {
    const h = new RecordingHandler();
    const s = await setupReplica('A', SNAP_A, {}, (m) => {
      const ends = [1, 2, 3].map((i) => m.write(['set', `k${i}`, 'v']));
      return { force: false, resumeFrom: new Map([[0, ends[0]]]) };
    }, h);
    const old = new RsyncDaemon({ root: s.dir, port, address: '127.0.0.1', allowFrom: ['127.0.0.1'], password: '', logger: testLogger() });
    const stale = spawn('rsync', ['--daemon', '--no-detach', `--config=${old.writeConfig()}`, '--address=127.0.0.1', `--port=${port}`], { stdio: 'ignore', detached: true });
    spawned.push(stale);
    try {
      await waitFor('the stale daemon listening', async () => !(await refused('127.0.0.1', port)), 5000);
      s.replica.start();
      await waitFor('2 entries streamed', () => h.entries.length === 2, 10_000);
      assert.equal(h.snapshots.length, 0);
      await exited(stale);
      assert.equal(stale.signalCode, 'SIGKILL');
    } finally {
      await s.done();
    }
  });

  it('leaves alone a process whose pid the pid file names but that is not our rsync', async () => {
    const dbsync = join(work, 'dbsync');
    const d = new RsyncDaemon({ root: dbsync, port, address: '127.0.0.1', allowFrom: ['127.0.0.1'], password: '', logger: testLogger() });
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    spawned.push(other);
    mkdirSync(d.dir, { recursive: true });
    writeFileSync(d.pidFile, `${other.pid}\n`);
    await d.start();
    try {
      assert.equal(other.exitCode, null);
      assert.equal(other.signalCode, null);
    } finally {
      await d.stop();
      other.kill('SIGKILL');
    }
  });
});

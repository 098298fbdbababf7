import { spawn } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * What an A/B master does after DBSync (spec §4.1, observed N5): the real `rsync` client pushes each
 * dump entry into the replica's daemon (`rsync_user@ip::document/<db>/<entry>/`), then `--delete`
 * passes for the five type dirs, then a bare probe connection, then `info` last — only when every
 * transfer succeeded. Nothing is reported to the replica.
 */
export interface PushOptions {
  readonly dumpDir: string;
  /** The remote path under the module: the DB's name (Pika's classic mode), default db0. */
  readonly dbName?: string;
  readonly ip: string;
  readonly port: number;
  /** Master's requirepass, or '' → password `default`. */
  readonly password: string;
  readonly workDir: string;
  /** Text of the `info` to send last (the master rewrites line 2 with its outgoing address). */
  readonly info: string;
  readonly timeoutSec?: number;
  /** Source address of the pushes (rsync --address). */
  readonly from?: string;
  /** Awaited after the type dirs' pushes and before `info` (a master slow to send it). */
  readonly beforeInfo?: () => Promise<void>;
}

export interface PushResult {
  ok: boolean;
  runs: Array<{ args: string[]; code: number | null; stderr: string }>;
}

function runRsync(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('rsync', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', (e) => resolve({ code: -1, stderr: e.message }));
    p.once('exit', (code) => resolve({ code, stderr }));
  });
}

export async function pushSnapshot(o: PushOptions): Promise<PushResult> {
  const pwFile = join(o.workDir, 'rsync.secret');
  writeFileSync(pwFile, o.password === '' ? 'default' : o.password, { mode: 0o600 });
  const common = [`--password-file=${pwFile}`, `--port=${o.port}`, `--timeout=${o.timeoutSec ?? 30}`, ...(o.from !== undefined ? [`--address=${o.from}`] : [])];
  const remote = (p: string) => `rsync_user@${o.ip}::document/${o.dbName ?? 'db0'}/${p}`;
  const runs: PushResult['runs'] = [];
  let ok = true;
  for (const name of readdirSync(o.dumpDir)) {
    if (name === 'info') continue;
    const src = join(o.dumpDir, name);
    const dir = statSync(src).isDirectory();
    const args = ['-avP', '--bwlimit=1048576', ...common, dir ? `${src}/` : src, dir ? `${remote(name)}/` : remote(name)];
    const r = await runRsync(args);
    runs.push({ args, ...r });
    if (r.code !== 0) {
      ok = false;
      break;
    }
  }
  for (const t of ['strings', 'hashes', 'lists', 'sets', 'zsets']) {
    const args = ['-avP', '--delete', ...common, `${join(o.dumpDir, t)}/`, `${remote(t)}/`];
    const r = await runRsync(args);
    runs.push({ args, ...r });
  }
  await new Promise<void>((resolve) => {
    const s = connect({ host: o.ip, port: o.port });
    s.once('connect', () => {
      s.destroy();
      resolve();
    });
    s.once('error', () => resolve());
  });
  await o.beforeInfo?.();
  if (ok) {
    const infoFile = join(o.workDir, 'info');
    writeFileSync(infoFile, o.info);
    const args = ['-avP', '--bwlimit=1048576', ...common, infoFile, remote('info')];
    const r = await runRsync(args);
    runs.push({ args, ...r });
    ok = r.code === 0;
  }
  return { ok, runs };
}

import { readFileSync } from 'node:fs';

/**
 * The rsyncd.conf of the daemon an A/B master pushes into (spec §4.1), narrowed from Pika's own:
 * Pika serves its whole db-sync-path, writable, to any address, as root. Here the module takes
 * only `dbN/` trees (the checkpoints, spools and this daemon's own files beside them cannot be
 * written), cannot be read from, lets in only the master's addresses, stores incoming symlinks
 * munged (they cannot lead out of the module), and when we run as root the transfer runs as
 * `nobody` inside a chroot of the module.
 */
export interface RsyncdConfOptions {
  /** The module's root: `db-sync-path`, where the master writes `db0/…`. */
  readonly root: string;
  readonly secretsFile: string;
  readonly logFile: string;
  readonly pidFile: string;
  readonly lockFile: string;
  /** The master's addresses: `hosts allow`. */
  readonly allowFrom: readonly string[];
  /** We run as root: the transfer is chrooted to the module, and runs as `dropTo` (null: root). */
  readonly asRoot: boolean;
  readonly dropTo: Ids | null;
}

export interface Ids {
  readonly uid: number;
  readonly gid: number;
}

export const RSYNC_USER = 'rsync_user';
export const RSYNC_MODULE = 'document';

export function rsyncdConf(o: RsyncdConfOptions): string {
  // rsync reads an empty `hosts allow` as no restriction at all.
  if (o.allowFrom.length === 0) throw new Error('rsync daemon: no master address to let in');
  return [
    // Unset, rsyncd run by root switches to `nobody` on its own: say who, always.
    ...(o.asRoot ? [`uid = ${o.dropTo?.uid ?? 0}`, `gid = ${o.dropTo?.gid ?? 0}`, 'use chroot = yes'] : ['use chroot = no']),
    'munge symlinks = yes',
    'reverse lookup = no',
    'max connections = 10',
    `lock file = ${o.lockFile}`,
    `log file = ${o.logFile}`,
    `pid file = ${o.pidFile}`,
    'list = no',
    'strict modes = yes',
    `auth users = ${RSYNC_USER}`,
    `secrets file = ${o.secretsFile}`,
    `[${RSYNC_MODULE}]`,
    `path = ${o.root.replace(/\/+$/, '')}/`,
    'read only = no',
    'write only = yes',
    `hosts allow = ${o.allowFrom.join(' ')}`,
    // Anchored at the module root: db0/, db1/, … and everything under them; nothing else.
    'filter = + /db[0-9]*/*** - *',
    '',
  ].join('\n');
}

/** The ids of `nobody` and its group (`nogroup` on Debian, `nobody` elsewhere), 65534 when the files do not say. */
export function unprivilegedIds(passwd = '/etc/passwd', group = '/etc/group'): Ids {
  const idOf = (file: string, names: readonly string[], field: number): number | null => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    const rows = text.split('\n').map((l) => l.split(':'));
    for (const name of names) {
      const row = rows.find((r) => r[0] === name);
      const id = row === undefined ? NaN : Number(row[field]);
      if (Number.isInteger(id) && id > 0) return id;
    }
    return null;
  };
  return { uid: idOf(passwd, ['nobody'], 2) ?? 65534, gid: idOf(group, ['nogroup', 'nobody'], 2) ?? 65534 };
}

import type { Config } from '../config/load.js';
import type { HostPort } from '../config/values.js';
import { dbRoutesOf } from '../daemon/db-map.js';
import { fetchPikaVersion } from '../replication/master-version.js';
import { PikaSource } from '../verify/pika-source.js';
import type { CheckItem } from './verdict.js';
import { infoFields } from './info-fields.js';
import { probeTcp } from './tcp-probe.js';

/** What the master checks learned, for the checks that follow (null client: the master could not be read). */
export interface MasterFacts {
  readonly address: HostPort;
  readonly pika: PikaSource | null;
  /** `INFO` (Pika's default sections) as fields; empty when the master could not be read. */
  readonly info: ReadonlyMap<string, string>;
  /** The address of ours that reaches the master (what Pika sees, unless network-interface says otherwise). */
  readonly localAddress: string | null;
}

/** Pika's `CONFIG GET <key>`, or null when refused (a 3.5 `userpass` user) or unknown to this version. */
export async function pikaConfig(pika: PikaSource, key: string): Promise<string | null> {
  try {
    const r = (await pika.call('CONFIG', 'GET', key)) as Buffer[];
    return r.length >= 2 ? r[1].toString() : null;
  } catch {
    return null;
  }
}

/**
 * The master's ports and identity: P (client port, from which INFO and the key sample are read),
 * P+2000 (replication), P+10001 (3.5+/4.0: the rsync service the snapshot is pulled from), the
 * version and family, the login with masterauth, and its DBs against `databases` / `db-map`.
 */
export async function checkMaster(config: Config, source: HostPort, password: string, timeoutMs: number): Promise<{ items: CheckItem[]; facts: MasterFacts }> {
  const items: CheckItem[] = [];
  const { host, port } = source;
  const facts = (pika: PikaSource | null, info: ReadonlyMap<string, string>, localAddress: string | null): MasterFacts => ({ address: source, pika, info, localAddress });
  const p = await probeTcp(host, port, timeoutMs);
  if (!p.open) {
    items.push({
      group: 'master',
      id: 'master.port',
      verdict: 'fail',
      detail: `${host}:${port} (client port P) does not accept connections: ${p.error}`,
      fix: `start the Pika or allow tcp from this host to ${host}:${port}, ${port + 2000} and (3.5+) ${port + 10001}; check slaveof / --source`,
    });
    return { items, facts: facts(null, new Map(), null) };
  }
  items.push({ group: 'master', id: 'master.port', verdict: 'ok', detail: `${host}:${port} (client port P) accepts connections` });
  // AUTH by hand first (fetchPikaVersion): ioredis hides some refusals of its own AUTH.
  const user = config.values['master-client-user'];
  const auth = user !== '' ? { username: user, password: config.values['master-client-pwd'] } : password !== '' ? { password } : undefined;
  let login = await fetchPikaVersion(host, port, auth, timeoutMs);
  if (login.version === null && password !== '' && /no password is set/i.test(login.why ?? '')) {
    // A master without requirepass takes any masterauth in the handshake: harmless, but say so.
    items.push({ group: 'master', id: 'master.auth-unused', verdict: 'warn', detail: 'masterauth is set but the master has no requirepass (its handshake ignores the password)', fix: 'leave masterauth empty, or set requirepass on the master' });
    password = '';
    login = await fetchPikaVersion(host, port, undefined, timeoutMs);
  }
  if (login.version === null) {
    const why = login.why ?? 'no version';
    items.push({
      group: 'master',
      id: 'master.auth',
      verdict: 'fail',
      detail: why,
      fix: /AUTH/.test(why) ? "set masterauth (or --source-password) to the master's requirepass: the replication handshake sends the same password" : 'point slaveof / --source at a Pika 3.2–4.x',
    });
    return { items, facts: facts(null, new Map(), p.localAddress) };
  }
  let pika: PikaSource;
  try {
    pika = await PikaSource.connect({ host, port, ...(password !== '' ? { password } : {}), connectTimeoutMs: timeoutMs });
  } catch (e) {
    const msg = (e as Error).message;
    const auth = /NOAUTH|invalid password|WRONGPASS|auth/i.test(msg);
    items.push({
      group: 'master',
      id: 'master.auth',
      verdict: 'fail',
      detail: msg,
      fix: auth ? "set masterauth (or --source-password) to the master's requirepass: the replication handshake sends the same password" : 'point slaveof / --source at a Pika 3.2–4.x',
    });
    return { items, facts: facts(null, new Map(), p.localAddress) };
  }
  // Pika lets a wrong password in as its limited `userpass` user (INFO and reads work), while the
  // replication handshake wants the requirepass itself. So the password must be what CONFIG GET
  // requirepass answers: 3.2.7 and 4.0.1 show it even to that user, 3.5.5 answers it NOAUTH.
  let seen: string;
  try {
    seen = ((await pika.call('CONFIG', 'GET', 'requirepass')) as Buffer[])[1]?.toString() ?? '';
  } catch (e) {
    seen = `(${(e as Error).message})`;
  }
  if (seen !== password) {
    pika.close();
    items.push({
      group: 'master',
      id: 'master.auth',
      verdict: 'fail',
      detail: `${password === '' ? 'no masterauth is set' : 'masterauth is accepted on P'} but is not the master's requirepass (CONFIG GET requirepass does not answer it): the replication handshake would be refused`,
      fix: "set masterauth (or --source-password) to the master's requirepass",
    });
    return { items, facts: facts(null, new Map(), p.localAddress) };
  }
  items.push({ group: 'master', id: 'master.auth', verdict: 'ok', detail: password === '' ? 'the master needs no password' : "masterauth is the master's requirepass" });
  items.push({
    group: 'master',
    id: 'master.version',
    verdict: 'ok',
    detail: `Pika ${pika.version}, family ${pika.family} (${FAMILY_TEXT[pika.family]})`,
    data: { version: pika.version, family: pika.family },
  });
  const ports: Array<[number, string]> = [[port + 2000, 'replication port P+2000']];
  if (pika.family === 'C' || pika.family === 'D') ports.push([port + 10001, 'rsync service P+10001 (the snapshot is pulled from it)']);
  for (const [q, what] of ports) {
    const r = await probeTcp(host, q, timeoutMs);
    items.push(
      r.open
        ? { group: 'master', id: `master.port+${q - port}`, verdict: 'ok', detail: `${host}:${q} (${what}) accepts connections` }
        : { group: 'master', id: `master.port+${q - port}`, verdict: 'fail', detail: `${host}:${q} (${what}) does not accept connections: ${r.error}`, fix: `allow tcp from this host to ${host}:${q}` },
    );
  }
  const info = infoFields(((await pika.call('INFO', 'all')) as Buffer).toString());
  const dbs = await databaseItems(config, pika);
  items.push(...dbs);
  // A sharding master answers most reads with "only support in classic mode": nothing more to learn.
  if (dbs.some((i) => i.data?.sharding === true)) {
    pika.close();
    return { items, facts: facts(null, info, p.localAddress) };
  }
  const binlog = await pikaConfig(pika, 'write-binlog');
  if (binlog === 'no') {
    items.push({ group: 'master', id: 'master.write-binlog', verdict: 'fail', detail: 'the master runs with write-binlog : no: there is no binlog to follow after the snapshot', fix: 'set write-binlog : yes on the master (CONFIG SET write-binlog yes, then a restart for Pika 3.2)' });
  }
  return { items, facts: facts(pika, info, p.localAddress) };
}

const FAMILY_TEXT: Record<string, string> = { A: '3.2: snapshot pushed to our port+1000', B: '3.3–3.4: snapshot pushed to our port+1000', C: '3.5: snapshot pulled from P+10001', D: '4.0: snapshot pulled from P+10001' };

/** Sharding mode cannot be followed; several DBs must match `databases`, and db-map says where each goes. */
async function databaseItems(config: Config, pika: PikaSource): Promise<CheckItem[]> {
  const v = config.values;
  const mode = await pikaConfig(pika, 'instance-mode');
  if (mode !== null && mode !== 'classic') {
    return [{ group: 'master', id: 'master.databases', verdict: 'fail', detail: `the master runs instance-mode : ${mode}: pika-migrate follows classic masters only`, data: { sharding: true }, fix: 'migrate a classic-mode Pika (a sharding cluster: each of its nodes is not a classic master)' }];
  }
  const raw = await pikaConfig(pika, 'databases');
  const routes = dbRoutesOf(v, config.file);
  const mapText = routes.map((r) => `db${r.source}→Redis ${r.target}`).join(', ');
  if (raw === null) {
    return [{ group: 'master', id: 'master.databases', verdict: 'warn', detail: `CONFIG GET databases was refused or is unknown; assuming ${v.databases} (${mapText})`, fix: 'check the master\'s databases by hand: it must equal ours' }];
  }
  const n = Number(raw);
  if (n !== v.databases) {
    return [{ group: 'master', id: 'master.databases', verdict: 'fail', detail: `the master has databases : ${n}, the conf says ${v.databases}`, fix: `set databases : ${n} in ${config.file} (and db-map if the Redis DBs must differ)`, data: { master: n, conf: v.databases } }];
  }
  return [{ group: 'master', id: 'master.databases', verdict: 'ok', detail: `${n} DB${n > 1 ? 's' : ''}: ${mapText}`, data: { databases: n, routes } }];
}

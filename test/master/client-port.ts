import type { Socket } from 'node:net';
import { ProtocolError, RequestParser, SimpleString, encodeReply, type Reply } from '../../src/admin/resp.js';
import { CLIENT_READS, answerRead, keyspaceInfo } from './client-reads.js';
import type { PikaKeyspace } from './pika-keyspace.js';

/** An ACL user on P (Pika 3.5.3+, `user : <name> on >pass +info …` in pika.conf). */
export interface ClientPortUser {
  readonly password: string;
  /** The commands it may run (lower case); `all` for +@all. */
  readonly commands: readonly string[] | 'all';
}

/** Pika got ACL users (`AUTH <user> <password>`, WRONGPASS, NOPERM) in 3.5.3; before, AUTH took a password only. */
export function hasAcl(version: string): boolean {
  const [major, minor, patch] = version.split('.').map(Number);
  return major > 3 || (major === 3 && (minor > 5 || (minor === 5 && patch >= 3)));
}

/**
 * The master's client port P, as far as a replica uses it: PING, AUTH and `INFO [server]` with
 * Pika's `pika_version` line; with a `keyspace`, also the reads `pika-migrate verify` sends
 * (client-reads.ts) and `INFO keyspace`. Pika answers every other command too; we send none, so
 * this double refuses them rather than pretend. Without AUTH a password-protected Pika answers NOAUTH.
 * AUTH answers as the version does: before 3.5.3 a password only ("ERR invalid password"), from
 * 3.5.3 also a user and its password ("WRONGPASS …"), the user then limited to its commands (NOPERM).
 */
export function serveClientPort(
  s: Socket,
  opts: {
    version: string;
    requirepass: string;
    users?: Record<string, ClientPortUser>;
    port: number;
    keyspace?: PikaKeyspace;
    now?: () => number;
    onCommand?: (name: string, user?: string) => void;
  },
): void {
  const parser = new RequestParser();
  const acl = hasAcl(opts.version);
  let authed = opts.requirepass === '';
  let user: string | undefined;
  const reply = (r: Reply) => s.write(encodeReply(r));
  const auth = (argv: Buffer[]): Reply => {
    if (argv.length < 2 || argv.length > (acl ? 3 : 2)) return new Error("ERR wrong number of arguments for 'auth' command");
    if (argv.length === 3) {
      const u = opts.users?.[argv[1].toString()];
      if (u === undefined || u.password !== argv[2].toString()) return new Error('WRONGPASS invalid username-password pair or user is disabled.');
      authed = true;
      user = argv[1].toString();
      return new SimpleString('OK');
    }
    if (opts.requirepass === '') return new Error('ERR Client sent AUTH, but no password is set');
    if (argv[1].toString() !== opts.requirepass) return new Error(acl ? 'WRONGPASS invalid username-password pair or user is disabled.' : 'ERR invalid password');
    authed = true;
    user = undefined;
    return new SimpleString('OK');
  };
  const allowed = (cmd: string): boolean => {
    if (user === undefined) return true;
    const cmds = opts.users![user].commands;
    return cmds === 'all' || cmds.includes(cmd);
  };
  s.on('error', () => {});
  s.on('data', (chunk: Buffer) => {
    try {
      parser.push(chunk);
      // One write for the replies of one chunk of pipelined commands, as a server's output buffer does.
      s.cork();
      process.nextTick(() => s.uncork());
      for (let argv = parser.next(); argv !== undefined; argv = parser.next()) {
        const cmd = argv[0]?.toString().toLowerCase() ?? '';
        opts.onCommand?.(cmd, user);
        if (cmd === 'auth') {
          reply(auth(argv));
        } else if (!authed) {
          reply(new Error('NOAUTH Authentication required.'));
        } else if (!allowed(cmd)) {
          reply(new Error(`NOPERM this user has no permissions to run the '${cmd}' command`));
        } else if (cmd === 'ping') {
          reply(new SimpleString('PONG'));
        } else if (cmd === 'info' && (argv.length === 1 || /^(server|all)$/i.test(argv[1].toString()))) {
          const version = opts.version === '' ? [] : [`pika_version:${opts.version}`];
          reply(Buffer.from(['# Server', ...version, 'os:Linux', 'arch_bits:64', `process_id:${process.pid}`, `tcp_port:${opts.port}`, 'thread_num:1', ''].join('\r\n')));
        } else if (cmd === 'info' && argv.length === 2 && /^keyspace$/i.test(argv[1].toString()) && opts.keyspace !== undefined) {
          reply(Buffer.from(keyspaceInfo(opts.keyspace, opts.version)));
        } else if (CLIENT_READS.has(cmd) && opts.keyspace !== undefined) {
          try {
            reply(answerRead(opts.keyspace, cmd, argv, (opts.now ?? Date.now)()));
          } catch (e) {
            reply(e as Error);
          }
        } else {
          reply(new Error(`ERR this test master does not serve '${cmd}' on its client port`));
        }
      }
    } catch (e) {
      if (e instanceof ProtocolError) reply(new Error(`ERR Protocol error: ${e.message}`));
      s.destroy();
    }
  });
}

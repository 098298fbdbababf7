import type { Socket } from 'node:net';
import { ProtocolError, RequestParser, SimpleString, encodeReply, type Reply } from '../../src/admin/resp.js';
import { CLIENT_READS, answerRead, keyspaceInfo } from './client-reads.js';
import type { PikaKeyspace } from './pika-keyspace.js';

/**
 * The master's client port P, as far as a replica uses it: PING, AUTH and `INFO [server]` with
 * Pika's `pika_version` line; with a `keyspace`, also the reads `pika-migrate verify` sends
 * (client-reads.ts) and `INFO keyspace`. Pika answers every other command too; we send none, so
 * this double refuses them rather than pretend. Without AUTH a password-protected Pika answers NOAUTH.
 */
export function serveClientPort(
  s: Socket,
  opts: { version: string; requirepass: string; port: number; keyspace?: PikaKeyspace; now?: () => number; onCommand?: (name: string) => void },
): void {
  const parser = new RequestParser();
  let authed = opts.requirepass === '';
  const reply = (r: Reply) => s.write(encodeReply(r));
  s.on('error', () => {});
  s.on('data', (chunk: Buffer) => {
    try {
      parser.push(chunk);
      // One write for the replies of one chunk of pipelined commands, as a server's output buffer does.
      s.cork();
      process.nextTick(() => s.uncork());
      for (let argv = parser.next(); argv !== undefined; argv = parser.next()) {
        const cmd = argv[0]?.toString().toLowerCase() ?? '';
        opts.onCommand?.(cmd);
        if (cmd === 'auth') {
          if (opts.requirepass === '') reply(new Error('ERR Client sent AUTH, but no password is set'));
          else if (argv[1]?.toString() === opts.requirepass) {
            authed = true;
            reply(new SimpleString('OK'));
          } else reply(new Error('ERR invalid password'));
        } else if (!authed) {
          reply(new Error('NOAUTH Authentication required.'));
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

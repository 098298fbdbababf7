import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/log.js';
import { defaultLimits, encodeReply, ProtocolError, RequestParser, unauthenticatedLimits, type Reply } from './resp.js';

/** What a connection needs to run a command: its own auth state, and a way to ask it to close. */
export interface Session {
  authenticated: boolean;
  readonly remote: string;
  /** Set by a command (e.g. SHUTDOWN, QUIT) to close the connection after its reply. */
  closeAfterReply: boolean;
}

export type CommandHandler = (argv: Buffer[], session: Session) => Reply | Promise<Reply>;

export interface AdminServerOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly handle: CommandHandler;
  /** Whether a new session needs AUTH first. */
  readonly needsAuth: () => boolean;
  /** A client that does not read its replies is dropped past this many buffered bytes. */
  readonly maxOutputBytes?: number;
  /**
   * `protected-mode`: while no password is set, serve loopback clients only (others get a DENIED
   * explanation and are disconnected), as Redis does.
   */
  readonly protectedMode?: boolean;
  /** `maxclients`: connections served at once; one more gets `-ERR max number of clients reached`. */
  readonly maxClients?: number;
}

/** A refused client gets this long to read its error before the socket is destroyed. */
const REFUSED_LINGER_MS = 1000;
const REFUSAL_LOG_MS = 10_000;

const DENIED =
  '-DENIED pika-migrate is running in protected mode because protected mode is enabled and no requirepass is set. ' +
  'In this mode the admin port only serves clients from the loopback interface, since anyone reaching it could SLAVEOF, CONFIG SET or SHUTDOWN the migration. ' +
  'To serve other hosts, do one of: 1) set requirepass in the conf and restart (clients then AUTH); ' +
  '2) bind to a loopback address (bind : 127.0.0.1) and reach the port through SSH or a local proxy; ' +
  '3) set protected-mode : no and restart, if a firewall already limits who reaches the port.\r\n';

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (what a dual-stack listener reports). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * The Redis-protocol admin port. One command runs at a time per connection, and the socket is
 * paused while it runs, so a client that pipelines faster than we answer is held by TCP, not by
 * our memory.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Refused or closing sockets lingering until their last reply is read, closed with the server. */
  private readonly refused = new Set<Socket>();
  private readonly refusals = new Map<string, { at: number; since: number }>();
  /** Since the start, for INFO's Stats (Pika counts its client port the same way). */
  readonly totals = { connectionsReceived: 0, bytesIn: 0, bytesOut: 0 };

  constructor(private readonly opts: AdminServerOptions) {
    this.server = createServer((socket) => this.accept(socket));
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host: this.opts.host, port: this.opts.port });
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const s of this.refused) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get connections(): number {
    return this.sockets.size;
  }

  /**
   * One warning per reason every REFUSAL_LOG_MS, with how many were refused since: a flood of
   * connections must not become a flood of log lines.
   */
  private logRefusal(client: string, why: string): void {
    const now = Date.now();
    const last = this.refusals.get(why);
    if (last !== undefined && now - last.at < REFUSAL_LOG_MS) {
      last.since++;
      return;
    }
    this.refusals.set(why, { at: now, since: 0 });
    this.opts.logger.warn({ client, refusedSinceLastLine: last?.since ?? 0 }, `admin client refused: ${why}`);
  }

  /** Writes one error line, reads nothing, and destroys the socket a second later. */
  private refuse(socket: Socket, reply: string, why: string): void {
    this.refused.add(socket);
    this.logRefusal(`${socket.remoteAddress}:${socket.remotePort}`, why);
    const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    timer.unref();
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timer);
      this.refused.delete(socket);
    });
    // Not destroyed at once: with the client's input unread, that would be a reset that can lose the line.
    socket.pause();
    socket.end(reply);
  }

  private accept(socket: Socket): void {
    this.totals.connectionsReceived++;
    const needsAuth = this.opts.needsAuth();
    if (this.opts.protectedMode === true && !needsAuth && !isLoopback(socket.remoteAddress)) {
      this.refuse(socket, DENIED, 'protected mode (no requirepass, client not on loopback)');
      return;
    }
    if (this.sockets.size >= (this.opts.maxClients ?? Infinity)) {
      this.refuse(socket, '-ERR max number of clients reached\r\n', `maxclients (${this.opts.maxClients}) reached`);
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const session: Session = {
      authenticated: !needsAuth,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      closeAfterReply: false,
    };
    const limits = () => (session.authenticated ? defaultLimits : unauthenticatedLimits);
    const parser = new RequestParser(limits());
    const maxOut = this.opts.maxOutputBytes ?? 8 * 1024 * 1024;
    let busy = false;
    let closing = false;
    let lingerTimer: NodeJS.Timeout | null = null;

    // Ends the connection after the last reply. Nothing more is read (a flood is left to TCP, not
    // to our memory); the socket is destroyed a second later, as closing it at once with unread
    // input would be a reset that can lose the reply.
    const closeAfter = (): void => {
      closing = true;
      // No longer a client served: it frees its maxclients slot now.
      this.sockets.delete(socket);
      this.refused.add(socket);
      socket.pause();
      socket.end();
      lingerTimer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
      lingerTimer.unref();
    };

    const send = (r: Reply): void => {
      if (socket.destroyed) return;
      const out = encodeReply(r);
      this.totals.bytesOut += out.length;
      socket.write(out);
      if (socket.writableLength > maxOut) {
        this.opts.logger.warn({ client: session.remote }, 'admin client does not read its replies; closing it');
        socket.destroy();
      }
    };

    const drain = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          let argv: Buffer[] | undefined;
          try {
            parser.limits = limits();
            argv = parser.next();
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            send(new Error(`ERR Protocol error: ${e.message}`));
            closeAfter();
            return;
          }
          if (argv === undefined || socket.destroyed || closing) return;
          socket.pause();
          let reply: Reply;
          try {
            reply = await this.opts.handle(argv, session);
          } catch (e) {
            reply = new Error(`ERR ${(e as Error).message}`);
          }
          send(reply);
          if (session.closeAfterReply) {
            closeAfter();
            return;
          }
          // A client that does not read its replies is held by TCP: read no more requests until
          // the replies it has are flushed, so its output stays within a socket buffer.
          if (socket.writableNeedDrain) {
            await new Promise<void>((resolve) => {
              const done = () => {
                socket.off('drain', done);
                socket.off('close', done);
                resolve();
              };
              socket.on('drain', done);
              socket.on('close', done);
            });
            if (socket.destroyed) return;
          }
          socket.resume();
        }
      } finally {
        busy = false;
      }
    };

    socket.on('data', (chunk: Buffer) => {
      this.totals.bytesIn += chunk.length;
      if (closing) return;
      try {
        parser.limits = limits();
        parser.push(chunk);
      } catch (e) {
        send(new Error(`ERR Protocol error: ${(e as Error).message}`));
        closeAfter();
        return;
      }
      void drain();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (lingerTimer !== null) clearTimeout(lingerTimer);
      this.sockets.delete(socket);
      this.refused.delete(socket);
    });
  }
}

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/log.js';
import { encodeReply, ProtocolError, RequestParser, type Reply } from './resp.js';

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
}

/**
 * The Redis-protocol admin port. One command runs at a time per connection, and the socket is
 * paused while it runs, so a client that pipelines faster than we answer is held by TCP, not by
 * our memory.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
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
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get connections(): number {
    return this.sockets.size;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.totals.connectionsReceived++;
    socket.setNoDelay(true);
    const session: Session = {
      authenticated: !this.opts.needsAuth(),
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      closeAfterReply: false,
    };
    const parser = new RequestParser();
    const maxOut = this.opts.maxOutputBytes ?? 8 * 1024 * 1024;
    let busy = false;

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
            argv = parser.next();
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            send(new Error(`ERR Protocol error: ${e.message}`));
            socket.end();
            return;
          }
          if (argv === undefined || socket.destroyed) return;
          socket.pause();
          let reply: Reply;
          try {
            reply = await this.opts.handle(argv, session);
          } catch (e) {
            reply = new Error(`ERR ${(e as Error).message}`);
          }
          send(reply);
          if (session.closeAfterReply) {
            socket.end();
            return;
          }
          socket.resume();
        }
      } finally {
        busy = false;
      }
    };

    socket.on('data', (chunk: Buffer) => {
      this.totals.bytesIn += chunk.length;
      try {
        parser.push(chunk);
      } catch (e) {
        send(new Error(`ERR Protocol error: ${(e as Error).message}`));
        socket.destroy();
        return;
      }
      void drain();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }
}

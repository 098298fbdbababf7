import { connect } from 'node:net';

/** Outcome of one TCP connect: open, or the socket error's code (ECONNREFUSED, ETIMEDOUT, …). */
export type TcpProbe = { readonly open: true; readonly localAddress: string } | { readonly open: false; readonly error: string };

/** Opens and closes one TCP connection: proves a port accepts, and which local address reaches it. */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<TcpProbe> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (r: TcpProbe) => {
      clearTimeout(t);
      s.destroy();
      resolve(r);
    };
    const t = setTimeout(() => done({ open: false, error: `ETIMEDOUT (no answer in ${timeoutMs} ms)` }), timeoutMs);
    s.once('connect', () => done({ open: true, localAddress: s.localAddress ?? '' }));
    s.once('error', (e: NodeJS.ErrnoException) => done({ open: false, error: e.code ?? e.message }));
  });
}

import type { Redis } from 'ioredis';
import { parseClusterSlots, splitAddr, type SlotMap } from './cluster-slots.js';
import { openConnection, type TargetOptions } from './connection.js';

/**
 * One spare connection per cluster node, opened on first use, for what goes outside the senders'
 * pipelines: resends one at a time (with ASKING when asked), CLUSTER SLOTS, commands on every master.
 */
export class NodeLinks {
  private readonly conns = new Map<string, Redis>();

  constructor(
    private readonly targetOf: (addr: string) => TargetOptions,
    /** Nodes to ask for the slot map, in order of preference. */
    private readonly candidates: () => string[],
  ) {}

  /**
   * Runs one command on a node: its error reply, or null when it succeeded. Throws
   * TargetUnreachableError when the node cannot be reached, another Error when the reply was lost.
   */
  async run(addr: string, name: string, args: ReadonlyArray<Buffer | string>, asking = false): Promise<Error | null> {
    const conn = await this.to(addr);
    try {
      if (asking) {
        const res = await conn.pipeline().call('ASKING').call(name, ...args).exec();
        const e = res?.[1]?.[0] ?? res?.[0]?.[0] ?? null;
        if (e !== null && e.name !== 'ReplyError') throw e;
        return e;
      }
      await conn.call(name, ...args);
      return null;
    } catch (e) {
      if ((e as Error).name === 'ReplyError') return e as Error;
      this.conns.delete(addr);
      conn.disconnect();
      throw e;
    }
  }

  /** `f` with the node's connection; a failure that is not an error reply drops the connection. */
  async withNode<T>(addr: string, f: (conn: Redis) => Promise<T>): Promise<T> {
    const conn = await this.to(addr);
    try {
      return await f(conn);
    } catch (e) {
      if ((e as Error).name !== 'ReplyError') {
        this.conns.delete(addr);
        conn.disconnect();
      }
      throw e;
    }
  }

  /** The current slot map from the first node that answers, or null when none does. */
  async topology(): Promise<SlotMap | null> {
    for (const addr of new Set(this.candidates())) {
      try {
        const conn = await this.to(addr);
        return parseClusterSlots(await conn.call('CLUSTER', 'SLOTS'), splitAddr(addr).host);
      } catch {
        // the next one
      }
    }
    return null;
  }

  close(): void {
    for (const c of this.conns.values()) c.disconnect();
    this.conns.clear();
  }

  private async to(addr: string): Promise<Redis> {
    const c = this.conns.get(addr);
    if (c !== undefined && c.status === 'ready') return c;
    if (c !== undefined) {
      this.conns.delete(addr);
      c.disconnect();
    }
    const conn = await openConnection(this.targetOf(addr), 'pika-migrate-cluster-direct');
    conn.on('error', () => {});
    this.conns.set(addr, conn);
    return conn;
  }
}

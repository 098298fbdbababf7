import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { silentLogger } from '../../src/core/log.js';
import { encodeResponse, MsgType, Status } from '../../src/replication/messages.js';
import { MAX_HELD_BYTES, ReplConnection } from '../../src/replication/repl-connection.js';

/** A BinlogSync response of `count` elements whose binlogs are `bytes` long. */
function binlogFrame(bytes: number, offset: number, count = 1): Buffer {
  const binlog = Buffer.alloc(bytes, 120);
  return encodeResponse({
    type: MsgType.BinlogSync,
    code: Status.Ok,
    binlog_sync: Array.from({ length: count }, (_, i) => ({ partition: { table_name: 'db0', partition_id: 0 }, binlog_offset: { filenum: 0, offset: offset + i }, binlog, session_id: 1 })),
  });
}

/**
 * A master that writes `frames` at once, as soon as the replica connects (only the replica's
 * reading paces it: TCP back-pressure), and a ReplConnection to it, handed to `body`.
 */
async function withMaster(frames: Buffer[], body: (conn: ReplConnection) => Promise<void>): Promise<void> {
  let peer: Socket | null = null;
  const server: Server = createServer((s) => {
    peer = s;
    for (const f of frames) s.write(f);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const conn = new ReplConnection('127.0.0.1', port, silentLogger());
  try {
    await body(conn);
  } finally {
    conn.close(new Error('test over'));
    (peer as Socket | null)?.destroy();
    server.close();
  }
}

/** A handler's wait, released by the test. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release!: () => void;
  const wait = new Promise<void>((r) => (release = r));
  return { wait, release };
}

test('while a binlog frame is handled, the link stops reading once the frames after it hold MAX_HELD_BYTES', async () => {
  const FRAME = 1 << 20;
  const FRAMES = 40;
  await withMaster(
    Array.from({ length: FRAMES }, (_, i) => binlogFrame(FRAME, i)),
    async (conn) => {
      const g = gate();
      let handled = 0;
      conn.onBinlog = () => {
        handled++;
        return handled === 1 ? g.wait : undefined;
      };
      await conn.connect(5000);
      // Let the stream run while the first frame's handler waits (the sink full, in the daemon).
      await new Promise((r) => setTimeout(r, 500));
      const held = conn.bytesReceived;
      assert.equal(handled, 1);
      // The socket's and the kernel's buffers are beyond our control; what the link reads is not.
      assert.ok(held < FRAME + MAX_HELD_BYTES + 2 * FRAME, `read ${held} bytes while one frame was being handled`);
      g.release();
      for (let i = 0; i < 200 && handled < FRAMES; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(handled, FRAMES, 'every frame is handled once reading resumes');
    },
  );
});

test('a message of 100 entries of 1 MiB (a master catching up) is read entry by entry, not held whole', async () => {
  const ENTRY = 1 << 20;
  const COUNT = 100;
  await withMaster([binlogFrame(ENTRY, 0, COUNT)], async (conn) => {
    const g = gate();
    const seen: Array<{ offset: number; ends: boolean }> = [];
    conn.onBinlog = (r, _at, endsMessage) => {
      for (const el of r.binlog_sync ?? []) seen.push({ offset: el.binlog_offset.offset, ends: endsMessage });
      return seen.length === 1 ? g.wait : undefined;
    };
    await conn.connect(5000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(seen.length, 1, 'the first entry is handed on before the message is complete');
    const held = conn.bytesReceived;
    assert.ok(held < ENTRY + MAX_HELD_BYTES + 2 * ENTRY, `read ${held} bytes of a ${COUNT} MiB message while its first entry was being handled`);
    g.release();
    for (let i = 0; i < 400 && seen.length < COUNT; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(
      seen.map((x) => x.offset),
      Array.from({ length: COUNT }, (_, i) => i),
    );
    assert.deepEqual(
      seen.filter((x) => x.ends).map((x) => x.offset),
      [COUNT - 1],
      'only the last entry ends the message',
    );
  });
});

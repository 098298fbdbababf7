import { strict as assert } from 'node:assert';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/core/errors.js';
import { FrameDecoder } from '../../src/replication/framing.js';
import { parseInfoFile } from '../../src/replication/info-file.js';
import { MsgType, Status, decodeResponse, decodeRsyncRequestStrict, encodeResponse, encodeRsyncResponse } from '../../src/replication/messages.js';
import { pullSnapshot } from '../../src/replication/rsync-client.js';
import { FIXTURES, tempDir, testLogger } from './support.js';

describe('info file', () => {
  it('parses a real 3.2.7 dump info', () => {
    const text = readFileSync(join(FIXTURES, 'snapshots/3.2.7-base/dump/db0/info'), 'utf8');
    const i = parseInfoFile(text, 'info');
    assert.deepEqual(i.start, { filenum: 0, offset: 499102 });
    assert.equal(i.masterHost, '127.0.0.1');
    assert.equal(i.masterPort, 19281);
    assert.equal(i.durationText, '0s');
  });
  it('parses the 3.5.5 info seen on the wire and a B info with term and index lines', () => {
    assert.deepEqual(parseInfoFile('0s\n192.0.2.2\n29221\n0\n7293750\n', 'x').start, { filenum: 0, offset: 7293750 });
    const b = parseInfoFile('3s\n10.0.0.1\n9221\n12\n3456\n2\n77\n', 'x');
    assert.deepEqual([b.start.filenum, b.term, b.index], [12, 2, 77]);
  });
  it('rejects short files and non-numeric offsets, naming the file', () => {
    assert.throws(() => parseInfoFile('0s\n1.2.3.4\n9221\n0\n', '/sync/db0/info'), (e: unknown) => e instanceof CorruptionError && e.where === '/sync/db0/info' && /4 lines/.test(e.message));
    assert.throws(() => parseInfoFile('0s\n1.2.3.4\n9221\n0\n12x\n', 'f'), /line 5 is not a non-negative integer/);
    assert.throws(() => parseInfoFile('0s\n1.2.3.4\n9221\n-1\n12\n', 'f'), /line 4/);
  });
});

/**
 * A stand-in rsync service on a free loopback port (`serve` handles each connection) and a fresh
 * sync dir, both gone after `run`.
 */
async function withService(serve: (s: Socket) => void, run: (port: number, dir: string) => Promise<void>): Promise<void> {
  const srv = createServer((s) => {
    s.on('error', () => {});
    serve(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const dir = tempDir('pm-pull-');
  try {
    await run((srv.address() as { port: number }).port, dir);
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A service that answers each request with `reply(request)`. */
function answering(reply: (req: ReturnType<typeof decodeRsyncRequestStrict>) => Parameters<typeof encodeRsyncResponse>[0]): (s: Socket) => void {
  return (s) => {
    const dec = new FrameDecoder('srv');
    s.on('data', (c: Buffer) => {
      for (const f of dec.push(c)) s.write(encodeRsyncResponse(reply(decodeRsyncRequestStrict(f.body, 'srv'))));
    });
  };
}

describe('rsync service client', () => {
  it('refuses file names that would escape the sync directory', async () => {
    await withService(
      answering((req) => ({ type: req.type, reader_index: req.reader_index, snapshot_uuid: 'u', db_name: 'db0', slot_id: 0, code: 1, meta_resp: { filenames: ['strings/CURRENT', '../../etc/passwd', 'info'] } })),
      (port, dir) =>
        assert.rejects(
          pullSnapshot({ host: '127.0.0.1', port, dbName: 'db0', dir, logger: testLogger(), requestTimeoutMs: 1000 }),
          (e: unknown) => e instanceof CorruptionError && /\.\.\/\.\.\/etc\/passwd/.test(e.message),
        ),
    );
  });

  it('retries the meta request when the master stays silent (3.5.0–3.5.2) and gives up after its budget', async () => {
    let metas = 0;
    await withService(
      (s) => {
        const dec = new FrameDecoder('srv');
        s.on('data', (c: Buffer) => {
          metas += dec.push(c).length;
        });
      },
      async (port, dir) => {
        await assert.rejects(
          pullSnapshot({ host: '127.0.0.1', port, dbName: 'db0', dir, logger: testLogger(), requestTimeoutMs: 100, metaRetryMs: 50, metaBudgetMs: 600 }),
          /gave no snapshot file list within 600 ms \(last: no reply\)/,
        );
        assert.ok(metas >= 3, `${metas} meta requests`);
      },
    );
  });

  it('refuses a response longer than 64 MiB at its length, naming the offset, before taking the memory', async () => {
    await withService(
      (s) => {
        s.once('data', () => {
          const head = Buffer.alloc(4);
          head.writeUInt32BE(100 * 1024 * 1024);
          s.write(head);
        });
      },
      (port, dir) =>
        assert.rejects(
          pullSnapshot({ host: '127.0.0.1', port, dbName: 'db0', dir, logger: testLogger(), requestTimeoutMs: 2000, metaBudgetMs: 1000 }),
          (e: unknown) => e instanceof CorruptionError && /frame length 104857600 .* exceeds the limit of 67108864 bytes/.test(e.message) && e.where === `rsync service 127.0.0.1:${port} byte 0`,
        ),
    );
  });

  /**
   * A master whose dump is ready `readyMs` after the first meta request: kErr until then, then a
   * list (without info, so the pull stops right there and needs no file service). Returns how long
   * after the first request the list came, and how many requests there were.
   */
  async function dumpSeen(readyMs: number): Promise<{ took: number; requests: number }> {
    const asked: number[] = [];
    await withService(
      answering((req) => {
        asked.push(Date.now());
        const ready = Date.now() - asked[0] >= readyMs;
        return {
          type: req.type, reader_index: req.reader_index, snapshot_uuid: ready ? 'u' : '', db_name: 'db0', slot_id: 0, code: ready ? 1 : 2,
          ...(ready ? { meta_resp: { filenames: ['strings/CURRENT'] } } : {}),
        };
      }),
      (port, dir) => assert.rejects(pullSnapshot({ host: '127.0.0.1', port, dbName: 'db0', dir, logger: testLogger(), metaRetryMs: 1000 }), /has no info file/),
    );
    return { took: asked[asked.length - 1] - asked[0], requests: asked.length };
  }

  it('asks for the meta again soon while the dump is being made, not a second later each time', async () => {
    const { took, requests } = await dumpSeen(150);
    assert.ok(took >= 150 && took < 600, `the list came ${took} ms after the first request (${requests} requests)`);
    assert.ok(requests >= 3 && requests <= 10, `${requests} meta requests`);
  });

  it('sees a dump that takes 800 ms within a tenth of that, asking a few dozen times at most', async () => {
    // Doubled waits asked at 375 and 775 ms, then at 1775: a dump ready at 800 ms waited ~1 s more.
    const { took, requests } = await dumpSeen(800);
    assert.ok(took >= 800 && took < 1000, `the list came ${took} ms after the first request (${requests} requests)`);
    assert.ok(requests <= 40, `${requests} meta requests`);
  });
});

describe('messages', () => {
  it('decodes bytes fields as Buffers (views of the frame), from a Buffer or a plain Uint8Array', () => {
    const frame = encodeResponse({
      type: MsgType.BinlogSync,
      code: Status.Ok,
      binlog_sync: [{ partition: { table_name: 'db0', partition_id: 0 }, binlog_offset: { filenum: 1, offset: 2, term: 0, index: 0 }, binlog: Buffer.from('abc'), session_id: 3 }],
    });
    const body = frame.subarray(4);
    for (const input of [body, new Uint8Array(body)]) {
      const r = decodeResponse(input, 'test');
      const el = r.binlog_sync![0];
      assert.ok(Buffer.isBuffer(el.binlog));
      assert.equal(el.binlog.toString(), 'abc');
      assert.equal(el.binlog_offset.offset, 2);
      assert.equal(el.session_id, 3);
    }
  });
});

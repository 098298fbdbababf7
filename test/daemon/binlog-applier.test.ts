import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BinlogEntry } from '../../src/core/binlog.js';
import type { RedisCommand } from '../../src/core/command.js';
import { silentLogger } from '../../src/core/log.js';
import type { SourcePosition } from '../../src/core/position.js';
import type { BinlogConvertContext } from '../../src/convert/binlog.js';
import { BinlogApplier, SELF_MOVE_WAIT_MS } from '../../src/daemon/binlog-applier.js';
import type { Sink } from '../../src/sink/sink.js';

/** A sink that keeps what it is given; `applied` is what Redis would have acknowledged. */
class FakeSink {
  readonly got: RedisCommand[] = [];
  applied: SourcePosition | null = null;
  /** When set, the next submit asks the producer to wait for it (a full sink). */
  full: Promise<void> | null = null;
  submit(cmd: RedisCommand): void | Promise<void> {
    this.got.push(cmd);
    const w = this.full;
    this.full = null;
    return w ?? undefined;
  }
  appliedPosition(): SourcePosition | null {
    return this.applied;
  }
  ackAll(): void {
    const last = this.got[this.got.length - 1];
    this.applied = last?.pos ?? null;
  }
}

const entry = (offset: number, ...argv: string[]): BinlogEntry => ({
  db: 0,
  execTime: 0,
  termOrServerId: 0,
  logicId: 0n,
  headerPos: { filenum: 1, offset: offset - 1 },
  argv: argv.map((a) => Buffer.from(a)),
  end: { filenum: 1, offset },
});

function applier(family: BinlogConvertContext['family']): { a: BinlogApplier; sink: FakeSink } {
  const sink = new FakeSink();
  const a = new BinlogApplier(sink as unknown as Sink, () => ({ family, version: family === 'C' ? '3.5.5' : '4.0.1', nowMs: Date.now() }), silentLogger());
  a.reset({ filenum: 1, offset: 0 });
  return { a, sink };
}

const shown = (sink: FakeSink) => sink.got.map((c) => `${c.name === 'EVAL' ? 'EVAL(rotate)' : c.name} ${c.args.slice(c.name === 'EVAL' ? 2 : 0).map(String).join(' ')} @${c.pos.kind === 'binlog' ? c.pos.offset : '?'}`);

test('RPOP k is held for the next entry: LPUSH k v makes one step of the pair, applied past both once Redis has it', async () => {
  const { a, sink } = applier('D');
  a.apply(entry(10, 'SET', 'x', '1'));
  a.apply(entry(20, 'RPOP', 'k'));
  assert.deepEqual(shown(sink), ['SET x 1 @10'], 'the RPOP waits');
  sink.ackAll();
  assert.deepEqual(a.appliedPosition(), { filenum: 1, offset: 10 }, 'nothing past the held entry counts as applied');
  a.apply(entry(30, 'LPUSH', 'k', 'v'));
  assert.deepEqual(shown(sink), ['SET x 1 @10', 'EVAL(rotate) k v @30']);
  assert.deepEqual(a.appliedPosition(), { filenum: 1, offset: 10 });
  sink.ackAll();
  assert.deepEqual(a.appliedPosition(), { filenum: 1, offset: 30 });
  assert.equal(a.stats().entries, 3);
  assert.equal(a.stats().notes['self-move'], 1);
});

test('a held entry whose next entry is not its second half goes first, alone; one with no next entry goes after the wait', async () => {
  const { a, sink } = applier('C');
  a.apply(entry(10, 'srem', 's', 'm'));
  a.apply(entry(20, 'sadd', 's', 'other'));
  a.apply(entry(30, 'RPOP', 'k'));
  a.apply(entry(40, 'RPOP', 'k'));
  assert.deepEqual(shown(sink), ['SREM s m @10', 'SADD s other @20', 'RPOP k @30']);
  await sleep(SELF_MOVE_WAIT_MS + 50);
  assert.deepEqual(shown(sink).slice(3), ['RPOP k @40']);
  sink.ackAll();
  assert.deepEqual(a.appliedPosition(), { filenum: 1, offset: 40 });
  // and srem + sadd of the same member, on C, is the SADD alone
  a.apply(entry(50, 'srem', 's', 'm'));
  a.apply(entry(60, 'sadd', 's', 'm'));
  assert.deepEqual(shown(sink).slice(4), ['SADD s m @60']);
});

test('release() applies a held entry at once; reset() forgets it', () => {
  const { a, sink } = applier('D');
  a.apply(entry(10, 'RPOP', 'k'));
  a.release();
  assert.deepEqual(shown(sink), ['RPOP k @10']);
  a.apply(entry(20, 'RPOP', 'j'));
  a.reset({ filenum: 2, offset: 0 });
  a.apply(entry(30, 'LPUSH', 'j', 'v'));
  assert.deepEqual(shown(sink), ['RPOP k @10', 'LPUSH j v @30']);
});

test('3.x before 3.5 logs RPOPLPUSH as it is: nothing is held', () => {
  const { a, sink } = applier('A');
  a.apply(entry(10, 'RPOP', 'k'));
  assert.deepEqual(shown(sink), ['RPOP k @10']);
});

test('an entry applied alone after the wait, into a full sink: the next entry waits for the room', async () => {
  const { a, sink } = applier('D');
  let room!: () => void;
  sink.full = new Promise<void>((r) => (room = r));
  a.apply(entry(10, 'RPOP', 'k'));
  await sleep(SELF_MOVE_WAIT_MS + 50);
  assert.deepEqual(shown(sink), ['RPOP k @10']);
  const next = a.apply(entry(20, 'SET', 'x', '1'));
  assert.ok(next instanceof Promise, 'the producer is told to wait');
  assert.deepEqual(shown(sink), ['RPOP k @10']);
  room();
  await next;
  assert.deepEqual(shown(sink), ['RPOP k @10', 'SET x 1 @20']);
});

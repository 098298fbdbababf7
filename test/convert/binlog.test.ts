import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BinlogEntry } from '../../src/core/binlog.js';
import type { RedisCommand } from '../../src/core/command.js';
import { convertEntry, convertSelfMove, startsSelfMove, type BinlogConvertContext } from '../../src/convert/binlog.js';
import { DELETE_MATCHING_SCRIPT, SET_IF_VALUE_SCRIPT, DELETE_IF_VALUE_SCRIPT, STREAM_SHRINK_SCRIPT } from '../../src/core/scripts.js';
import { decodeBinlogItem } from '../../src/replication/binlog-item.js';
import { wireItems } from '../binlog/wire-items.js';

/** A command as text: NAME arg arg … (+ [barrier]). */
function show(c: RedisCommand): string {
  const args = c.args.map((a) => (typeof a === 'string' ? a : a.toString('latin1')));
  return [c.name, ...args].join(' ') + (c.barrier === true ? ' [barrier]' : '');
}

function entry(argv: string[], end = { filenum: 3, offset: 1234 }, db = 0): BinlogEntry {
  return { db, execTime: 0, termOrServerId: 0, logicId: 0n, headerPos: { filenum: 3, offset: 1000 }, argv: argv.map((a) => Buffer.from(a, 'latin1')), end };
}

function conv(argv: string[], ctx: BinlogConvertContext) {
  const r = convertEntry(entry(argv), ctx);
  return { cmds: r.commands.map(show), notes: r.notes, commands: r.commands };
}

const realEntries = (file: string) => wireItems(file).map((it) => decodeBinlogItem(it.item, 0, it.end, () => file));

test('converts the real 3.3.6 live writes, splitting DEL/MSET per key and fencing multi-key writes', () => {
  const ctx: BinlogConvertContext = { family: 'B', version: '3.3.6', nowMs: 1795628416_000 };
  const out = new Map<string, string[]>();
  const notes: string[] = [];
  for (const e of realEntries('3.3.6-full-then-binlog.repl-frames.txt')) {
    const r = convertEntry(e, ctx);
    for (const c of r.commands) assert.deepEqual(c.pos, { kind: 'binlog', db: 0, filenum: e.end.filenum, offset: e.end.offset });
    out.set(e.argv.map((a) => a.toString('latin1')).join(' '), r.commands.map(show));
    notes.push(...r.notes.map((n) => n.code));
  }
  assert.deepEqual(out.get('pksetexat lv:setex 1795714816 v-setex'), ['SET lv:setex v-setex EXAT 1795714816']);
  assert.deepEqual(out.get('setnx lv:setnx second'), ['SETNX lv:setnx second']);
  assert.deepEqual(out.get('expireat lv:expire 1795714817'), ['EXPIREAT lv:expire 1795714817']);
  assert.deepEqual(out.get('DEL lv:m1 lv:m2'), ['DEL lv:m1', 'DEL lv:m2']);
  assert.deepEqual(out.get('MSET lv:m1 a lv:m2 b'), ['SET lv:m1 a', 'SET lv:m2 b']);
  assert.deepEqual(out.get('RPOPLPUSH lv:src lv:dst'), ['RPOPLPUSH lv:src lv:dst [barrier]']);
  assert.deepEqual(out.get('SMOVE lv:s1 lv:s2 a'), ['SMOVE lv:s1 lv:s2 a [barrier]']);
  assert.deepEqual(out.get('ZUNIONSTORE lv:zu 2 lv:z1 lv:z2'), ['ZUNIONSTORE lv:zu 2 lv:z1 lv:z2 [barrier]']);
  assert.deepEqual(out.get('SPOP lv:s1'), ['SPOP lv:s1']);
  assert.deepEqual(notes, ['spop-nondeterministic']);
});

test('converts the real 3.5.5 live writes: INCR as pksetexat 0, XADD, flushdb, expired pksetexat', () => {
  const entries = realEntries('3.5.5-full-then-binlog.repl-frames.txt');
  const short = entries.find((e) => e.argv[1]?.toString() === 'cap:short')!;
  const ts = Number(short.argv[2].toString());
  const ctx: BinlogConvertContext = { family: 'C', version: '3.5.5', nowMs: ts * 1000 - 500 };
  const all = entries.map((e) => ({ e, r: convertEntry(e, ctx) }));
  const find = (text: string) => all.find(({ e }) => e.argv.map((a) => a.toString('latin1')).join(' ') === text)!;
  // The master's INCR kept the key's TTL though it logs 0: the target keeps its own.
  assert.deepEqual(find('pksetexat cap:counter 0 12').r.commands.map(show), ['SET cap:counter 12 KEEPTTL']);
  assert.deepEqual(find('pksetexat cap:counter 0 12').r.notes, []);
  assert.deepEqual(convertEntry(find('pksetexat cap:counter 0 12').e, { ...ctx, legacyTarget: true }).commands.map((c) => c.name), ['EVAL']);
  // APPEND to a missing key: 3.5.5 and 4.0.1 log the new value as '' (seen on the real servers).
  for (const family of ['C', 'D'] as const) {
    const lost = conv(['pksetexat', 'n', '0', ''], { family, nowMs: 0 });
    assert.deepEqual(lost.notes.map((n) => n.code), ['append-value-lost']);
    assert.equal(lost.cmds.length, 1);
  }
  assert.deepEqual(find('XADD cap:st 1-1 f v').r.commands.map(show), ['XADD cap:st 1-1 f v']);
  const flush = find('flushdb').r.commands;
  assert.deepEqual(flush.map(show), ['FLUSHDB [barrier]']);
  assert.equal(flush[0].key, null);
  assert.deepEqual(convertEntry(short, ctx).commands.map(show), [`SET cap:short ${short.argv[3].toString()} EXAT ${ts}`]);
  // The same entry replayed after its expiry deletes the key instead of writing a dead value.
  const late = convertEntry(short, { ...ctx, nowMs: ts * 1000 });
  assert.deepEqual(late.commands.map(show), ['DEL cap:short']);
  assert.equal(late.notes[0].code, 'expired-on-arrival');
});

test('reads a 4.0.1 millisecond pksetexat as PXAT, seconds elsewhere', () => {
  const now = 1795628416_000;
  assert.deepEqual(conv(['pksetexat', 'k', String(now + 1500), 'v'], { family: 'D', version: '4.0.1', nowMs: now }).cmds, [`SET k v PXAT ${now + 1500}`]);
  assert.deepEqual(conv(['pksetexat', 'k', String(now - 1), 'v'], { family: 'D', nowMs: now }).cmds, ['DEL k']);
  assert.deepEqual(conv(['pksetexat', 'k', '1795628417', 'v'], { family: 'D', nowMs: now }).cmds, ['SET k v EXAT 1795628417']);
  assert.deepEqual(conv(['pksetexat', 'k', '1795628416', 'v'], { family: 'A', nowMs: now }).cmds, ['DEL k']);
  assert.deepEqual(conv(['pksetexat', 'k', '0', 'v'], { family: 'D', nowMs: now }).cmds, ['SET k v']);
  assert.deepEqual(conv(['PKSETEXAT', 'k', 'x1', 'v'], { family: 'A', nowMs: now }).notes.map((n) => n.code), ['unconvertible']);
  assert.deepEqual(conv(['pksetexat', 'k', '1'], { family: 'A', nowMs: now }).notes.map((n) => n.code), ['bad-arity']);
});

test('deletes at once on EXPIREAT past 2038 from Pika ≤ 3.5, keeps it from 4.0', () => {
  const now = Date.now();
  for (const family of ['A', 'B', 'C'] as const) {
    const r = conv(['EXPIREAT', 'k', '4102444800'], { family, nowMs: now });
    assert.deepEqual(r.cmds, ['DEL k']);
    assert.equal(r.notes[0].code, 'expireat-past-2038');
  }
  assert.deepEqual(conv(['expireat', 'k', '4102444800'], { family: 'D', nowMs: now }).cmds, ['EXPIREAT k 4102444800']);
  assert.deepEqual(conv(['pexpireat', 'k', '4102444800000'], { family: 'D', nowMs: now }).cmds, ['PEXPIREAT k 4102444800000']);
  assert.deepEqual(conv(['expireat', 'k', '2147483647'], { family: 'A', nowMs: now }).cmds, ['EXPIREAT k 2147483647']);
});

test('drops padding and admin internals with an info note naming the position', () => {
  for (const argv of [['padding', '*****'], ['clearcache'], ['clearreplicationid'], ['slotsmgrt-exec-wrapper', 'k', 'set', 'k', 'v'], ['sdiff', 'a', 'b'], ['SINTER', 'a'], ['sunion', 'a']]) {
    const r = conv(argv, { family: 'D', nowMs: 0 });
    assert.deepEqual(r.cmds, []);
    assert.equal(r.notes.length, 1);
    assert.equal(r.notes[0].level, 'info');
    assert.match(r.notes[0].message, /^db0:3:1234 /);
  }
});

test('never drops an unknown or malformed command silently', () => {
  for (const argv of [['frobnicate', 'k'], ['del'], ['mset', 'a', 'b', 'c'], ['mset', 'a'], ['get', 'k'], ['blpop', 'a', 'b', '0']]) {
    const r = conv(argv, { family: 'C', nowMs: 0 });
    assert.deepEqual(r.cmds, []);
    assert.equal(r.notes.length, 1, argv.join(' '));
    assert.equal(r.notes[0].level, 'warn');
    assert.match(r.notes[0].message, /db0:3:1234/);
  }
});

test('routes by the first key and fences only writes that span keys', () => {
  const ctx: BinlogConvertContext = { family: 'A', nowMs: 0 };
  const bitop = conv(['BITOP', 'AND', 'd', 'a', 'b'], ctx).commands[0];
  assert.equal(bitop.key?.toString(), 'd');
  assert.equal(bitop.barrier, true);
  const same = conv(['rpoplpush', 'l', 'l'], ctx).commands[0];
  assert.equal(same.barrier, undefined);
  assert.equal(conv(['ZINTERSTORE', 'd', '1', 'd'], ctx).commands[0].barrier, undefined);
  assert.equal(conv(['MSETNX', 'a', '1', 'b', '2'], ctx).commands[0].barrier, true);
  assert.deepEqual(conv(['unlink', 'a', 'b'], { family: 'C', nowMs: 0 }).cmds, ['UNLINK a', 'UNLINK b']);
  assert.deepEqual(conv(['blpop', 'q', '0'], { family: 'C', nowMs: 0 }).cmds, ['LPOP q']);
  const pf = conv(['pfmerge', 'd', 's'], ctx);
  assert.deepEqual(pf.cmds, ['PFMERGE d s [barrier]']);
  assert.equal(pf.notes[0].code, 'hll-not-portable');
  assert.equal(conv(['pfadd', 'h', 'a'], ctx).notes[0].code, 'hll-not-portable');
});

test('turns set … vx and delvx into single-key scripts', () => {
  const ctx: BinlogConvertContext = { family: 'A', nowMs: 0 };
  const vx = conv(['set', 'k', 'new', 'vx', 'old', 'ex', '10'], ctx).commands[0];
  assert.equal(vx.name, 'EVAL');
  assert.deepEqual(vx.args.map(String), [SET_IF_VALUE_SCRIPT, '1', 'k', 'old', 'new', 'EX', '10']);
  assert.equal(vx.key?.toString(), 'k');
  const d = conv(['delvx', 'k', 'v'], ctx).commands[0];
  assert.deepEqual(d.args.map(String), [DELETE_IF_VALUE_SCRIPT, '1', 'k', 'v']);
  assert.deepEqual(conv(['SET', 'k', 'v', 'NX', 'EX', '5'], ctx).cmds, ['SET k v NX EX 5']);
});

test('emulates pkpatternmatchdel and flushdb <type> behind a barrier, with the 3.5.5 cap', () => {
  const args = (argv: string[], ctx: BinlogConvertContext) => {
    const r = conv(argv, ctx);
    assert.equal(r.commands.length, 1);
    assert.equal(r.commands[0].key, null);
    assert.equal(r.commands[0].barrier, true);
    assert.equal(r.notes[0].code, 'emulated');
    assert.equal(r.commands[0].args[0], DELETE_MATCHING_SCRIPT);
    return r.commands[0].args.slice(1).map(String);
  };
  assert.deepEqual(args(['pkpatternmatchdel', 'u:*', 'hash'], { family: 'A', nowMs: 0 }), ['0', 'u:*', 'hash', '0']);
  assert.deepEqual(args(['pkpatternmatchdel', 'u:*', 'string'], { family: 'C', version: '3.5.5', nowMs: 0 }), ['0', 'u:*', 'string', '100']);
  assert.deepEqual(args(['pkpatternmatchdel', 'u:*', 'set', '7'], { family: 'C', version: '3.5.5', nowMs: 0 }), ['0', 'u:*', 'set', '7']);
  assert.deepEqual(args(['pkpatternmatchdel', 'u:*', 'zset'], { family: 'C', version: '3.5.3', nowMs: 0 }), ['0', 'u:*', 'zset', '0']);
  assert.deepEqual(args(['pkpatternmatchdel', 'u:*'], { family: 'D', version: '4.0.0', nowMs: 0 }), ['0', 'u:*', '', '0']);
  assert.deepEqual(args(['flushdb', 'list'], { family: 'B', nowMs: 0 }), ['0', '*', 'list', '0']);
  assert.equal(conv(['flushdb', 'bogus'], { family: 'B', nowMs: 0 }).notes[0].code, 'unconvertible');
  assert.deepEqual(conv(['flushall'], { family: 'C', version: '3.5.4', nowMs: 0 }).cmds, ['FLUSHALL [barrier]']);
});

test('leaves NaN zset scores (Pika keeps them, Redis refuses them) out of ZADD, with a note', () => {
  const ctx: BinlogConvertContext = { family: 'C', nowMs: 0 };
  const r = conv(['zadd', 'zu', '-0.75', 'm0', 'nan', 'm3', 'inf', 'm4', '-nan', 'm5'], ctx);
  assert.deepEqual(r.cmds, ['ZADD zu -0.75 m0 inf m4']);
  assert.deepEqual(r.notes.map((n) => n.code), ['zset-nan-score', 'zset-nan-score']);
  const only = conv(['zadd', 'zu', 'NaN', 'm3'], ctx);
  assert.deepEqual(only.cmds, []);
  assert.equal(only.notes.length, 1);
  assert.deepEqual(conv(['ZADD', 'z', '1', 'a', '2', 'b'], ctx).cmds, ['ZADD z 1 a 2 b']);
});

test('streams: XADD with the logged ID as is; trims exact (~ made =) and emptying writes through the shrink script', () => {
  const ctx: BinlogConvertContext = { family: 'C', version: '3.5.5', nowMs: 0 };
  const S = (cmd: string) => `EVAL ${STREAM_SHRINK_SCRIPT} 1 st ${cmd}`;
  assert.deepEqual(conv(['xadd', 'st', '5-1', 'f', 'v'], ctx).cmds, ['XADD st 5-1 f v']);
  assert.deepEqual(conv(['XADD', 'st', 'NOMKSTREAM', '5-1', 'maxlen', 'v'], ctx).cmds, ['XADD st NOMKSTREAM 5-1 maxlen v'], 'a field named maxlen is no option');
  assert.deepEqual(conv(['xadd', 'st', 'MAXLEN', '~', '10', '5-1', 'f', 'v'], ctx).cmds, [S('XADD MAXLEN = 10 5-1 f v')]);
  assert.deepEqual(conv(['xadd', 'st', 'minid', '3-0', '5-1', 'f', 'v'], ctx).cmds, [S('XADD minid 3-0 5-1 f v')]);
  assert.deepEqual(conv(['xtrim', 'st', 'MINID', '~', '2-0'], ctx).cmds, [S('XTRIM MINID = 2-0')]);
  assert.deepEqual(conv(['xtrim', 'st', 'MAXLEN', '0'], ctx).cmds, [S('XTRIM MAXLEN 0')]);
  assert.deepEqual(conv(['xdel', 'st', '1-1', '2-0'], ctx).cmds, [S('XDEL 1-1 2-0')]);
  assert.deepEqual(conv(['xadd', 'st', '1-1'], ctx).notes.map((n) => n.code), ['bad-arity']);
});

test('3.2 ZUNIONSTORE/ZINTERSTORE are forwarded with a note: Pika 3.2 sums ±inf scores its own way', () => {
  const a = conv(['ZUNIONSTORE', 'd', '2', 'a', 'b'], { family: 'A', nowMs: 0 });
  assert.deepEqual(a.cmds, ['ZUNIONSTORE d 2 a b [barrier]']);
  assert.deepEqual(a.notes.map((n) => n.code), ['zstore-inf-arithmetic']);
  assert.deepEqual(conv(['zinterstore', 'd', '1', 'a'], { family: 'A', nowMs: 0 }).notes.map((n) => n.code), ['zstore-inf-arithmetic']);
  assert.deepEqual(conv(['ZUNIONSTORE', 'd', '2', 'a', 'b'], { family: 'C', nowMs: 0 }).notes, []);
});

test('ZADD naming a member twice keeps its first score, as Pika does (Redis would keep the last)', () => {
  for (const family of ['A', 'C', 'D'] as const) {
    const ctx: BinlogConvertContext = { family, nowMs: 0 };
    assert.deepEqual(conv(['ZADD', 'z', '-59.707', 'm11', '-38.753', 'm11', '2', 'b'], ctx).cmds, ['ZADD z -59.707 m11 2 b']);
    assert.deepEqual(conv(['zadd', 'z', 'nan', 'a', '3', 'a'], ctx).cmds, []);
  }
});

test('self-move rewrites: which entries start one, which next entries complete it, and what the pair becomes', () => {
  const e = (argv: string[], offset: number) => entry(argv, { filenum: 3, offset });
  assert.deepEqual(
    (['A', 'B', 'C', 'D'] as const).map((f) => [startsSelfMove(e(['RPOP', 'k'], 1), f), startsSelfMove(e(['srem', 'k', 'm'], 1), f)]),
    [[false, false], [false, false], [true, true], [true, false]],
  );
  assert.equal(startsSelfMove(e(['RPOP', 'k', '2'], 1), 'C'), false, 'RPOP with a count is not the rewrite');
  assert.equal(startsSelfMove(e(['srem', 'k', 'm', 'n'], 1), 'C'), false);
  const c: BinlogConvertContext = { family: 'C', version: '3.5.5', nowMs: 0 };
  const d: BinlogConvertContext = { family: 'D', version: '4.0.1', nowMs: 0 };
  const rotated = convertSelfMove(e(['RPOP', 'k'], 10), e(['LPUSH', 'k', 'v'], 20), d)!;
  assert.deepEqual(rotated.commands.map((x) => [x.name, x.args.slice(1).map(String), x.pos]), [['EVAL', ['1', 'k', 'v'], { kind: 'binlog', db: 0, filenum: 3, offset: 20 }]]);
  assert.deepEqual(rotated.notes.map((n) => [n.level, n.code]), [['debug', 'self-move']]);
  assert.match(rotated.notes[0].message, /3:10 'RPOP k' .*RPOPLPUSH k k/);
  assert.deepEqual(convertSelfMove(e(['srem', 'k', 'm'], 10), e(['sadd', 'k', 'm'], 20), c)!.commands.map(show), ['SADD k m']);
  for (const [first, second, ctx] of [
    [['RPOP', 'k'], ['LPUSH', 'other', 'v'], d],
    [['RPOP', 'k'], ['LPUSH', 'k', 'v', 'w'], d],
    [['RPOP', 'k'], ['RPUSH', 'k', 'v'], d],
    [['srem', 'k', 'm'], ['sadd', 'k', 'n'], c],
    [['srem', 'k', 'm'], ['sadd', 'k', 'm'], d],
    [['srem', 'k', 'm'], ['LPUSH', 'k', 'm'], c],
  ] as const) {
    assert.equal(convertSelfMove(e([...first], 10), e([...second], 20), ctx), null, `${first.join(' ')} + ${second.join(' ')}`);
  }
  assert.equal(convertSelfMove(e(['RPOP', 'k'], 10), entry(['LPUSH', 'k', 'v'], { filenum: 3, offset: 20 }, 1), d), null, 'another DB');
});

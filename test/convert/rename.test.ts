/** key-rename-prefix: the syntax, the longest-prefix rule, and every key position of the converters' output. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertEntry } from '../../src/convert/binlog.js';
import { KeyFilter } from '../../src/convert/filter.js';
import { SnapshotRecordConverter } from '../../src/convert/records.js';
import { KeyRenamer, parseKeyRenames } from '../../src/convert/rename.js';
import type { RedisCommand } from '../../src/core/command.js';
import { DELETE_IF_VALUE_SCRIPT, GUARDED_WRITE_SCRIPT, LOAD_GUARD_KEY, SET_IF_VALUE_SCRIPT, SET_WITH_EXPIRY_SCRIPT } from '../../src/core/scripts.js';
import type { SnapshotRecord } from '../../src/core/record.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const text = (a: Buffer | string) => (typeof a === 'string' ? a : a.toString('latin1'));
const shown = (cmds: RedisCommand[]) => cmds.map((c) => [c.name, ...c.args.map(text)].join(' '));
const keysOf = (cmds: RedisCommand[]) => cmds.map((c) => (c.key === null ? null : text(c.key)));

const renamer = KeyRenamer.from(parseKeyRenames('user:=>u: user:vip:=>vip: q:=>queue: s:=>set:'))!;

function conv(argv: string[], extra: { filter?: KeyFilter | null; legacyTarget?: boolean; family?: 'A' | 'C' | 'D' } = {}) {
  return convertEntry(
    { db: 0, execTime: 0, termOrServerId: 0, logicId: 0n, headerPos: { filenum: 0, offset: 0 }, argv: argv.map(b), end: { filenum: 1, offset: 99 } },
    { family: extra.family ?? 'C', nowMs: Date.now(), filter: extra.filter ?? null, rename: renamer, ...(extra.legacyTarget ? { legacyTarget: true } : {}) },
  );
}

test('syntax: old=>new pairs, spaces between, backslash escapes; prefixes with ":" need none', () => {
  assert.deepEqual(parseKeyRenames('user:=>u:  order:=>o:'), [{ from: 'user:', to: 'u:' }, { from: 'order:', to: 'o:' }]);
  assert.deepEqual(parseKeyRenames('my\\ app:=>app: a\\=>b=>c back\\\\slash=>bs'), [
    { from: 'my app:', to: 'app:' },
    { from: 'a=>b', to: 'c' },
    { from: 'back\\slash', to: 'bs' },
  ]);
  assert.deepEqual(parseKeyRenames('=>all: strip:=>'), [{ from: '', to: 'all:' }, { from: 'strip:', to: '' }]);
  assert.deepEqual(parseKeyRenames(''), []);
  assert.throws(() => parseKeyRenames('user:'), /"user:" is not an old=>new pair/);
  assert.throws(() => parseKeyRenames('a=>b=>c'), /has two =>; escape one as \\=>/);
  assert.throws(() => parseKeyRenames('a=>b a=>c'), /the prefix "a" is renamed twice/);
  assert.throws(() => parseKeyRenames('a=>b\\'), /a backslash ends/);
  assert.equal(KeyRenamer.from([]), null, 'nothing to rename: no work at all');
});

test('the longest matching prefix wins; other keys and binary bytes stay as they are', () => {
  assert.equal(text(renamer.apply(b('user:1'))), 'u:1');
  assert.equal(text(renamer.apply(b('user:vip:7'))), 'vip:7', 'user:vip: is longer than user:');
  assert.equal(text(renamer.apply(b('users'))), 'users');
  const other = b('plain');
  assert.equal(renamer.apply(other), other, 'the same Buffer when nothing matches');
  const bin = Buffer.from([0x75, 0x73, 0x65, 0x72, 0x3a, 0x00, 0xff]);
  assert.deepEqual(renamer.apply(bin), Buffer.from([0x75, 0x3a, 0x00, 0xff]));
  const all = KeyRenamer.from(parseKeyRenames('=>all: keep:=>keep:'))!;
  assert.equal(text(all.apply(b('x'))), 'all:x', 'an empty old prefix catches every other key');
  assert.equal(text(all.apply(b('keep:1'))), 'keep:1');
  const utf8 = KeyRenamer.from(parseKeyRenames('café:=>c:'))!;
  assert.equal(utf8.apply(Buffer.from('café:1', 'utf8')).toString('utf8'), 'c:1', 'prefixes are UTF-8 bytes');
});

test('binlog: every key of single- and multi-key commands is renamed, values are not', () => {
  assert.deepEqual(shown(conv(['set', 'user:1', 'user:1']).commands), ['SET u:1 user:1'], 'a value equal to a key stays');
  assert.deepEqual(shown(conv(['rpoplpush', 'q:a', 'user:b']).commands), ['RPOPLPUSH queue:a u:b']);
  assert.deepEqual(shown(conv(['smove', 's:a', 's:b', 's:member']).commands), ['SMOVE set:a set:b s:member']);
  assert.deepEqual(shown(conv(['sinterstore', 's:dst', 's:1', 'other']).commands), ['SINTERSTORE set:dst set:1 other']);
  assert.deepEqual(shown(conv(['mset', 'user:1', 'q:x', 'q:2', 'v']).commands), ['SET u:1 q:x', 'SET queue:2 v']);
  assert.deepEqual(shown(conv(['del', 'user:1', 'q:2', 'x']).commands), ['DEL u:1', 'DEL queue:2', 'DEL x']);
  assert.deepEqual(shown(conv(['zunionstore', 'user:d', '2', 'user:a', 'q:b', 'WEIGHTS', '1', '2']).commands), ['ZUNIONSTORE u:d 2 u:a queue:b WEIGHTS 1 2']);
  assert.deepEqual(shown(conv(['bitop', 'AND', 'user:d', 'user:a', 'q:b']).commands), ['BITOP AND u:d u:a queue:b']);
  assert.deepEqual(shown(conv(['rename', 'user:old', 'user:vip:new']).commands), ['RENAME u:old vip:new']);
  assert.deepEqual(shown(conv(['msetnx', 'user:1', 'a', 'q:1', 'b']).commands), ['MSETNX u:1 a queue:1 b']);
  assert.deepEqual(shown(conv(['pfmerge', 'user:h', 'q:h']).commands), ['PFMERGE u:h queue:h']);
  assert.deepEqual(shown(conv(['blpop', 'user:l', '0']).commands), ['LPOP u:l']);
  assert.deepEqual(shown(conv(['hset', 'user:h', 'user:f', 'v']).commands), ['HSET u:h user:f v'], 'a field is not a key');
  assert.deepEqual(shown(conv(['expireat', 'user:1', '2000000000']).commands), ['EXPIREAT u:1 2000000000']);
  // Routing follows the target name, as the snapshot's commands do.
  assert.deepEqual(keysOf(conv(['rpoplpush', 'q:a', 'user:b']).commands), ['queue:a']);
  assert.deepEqual(keysOf(conv(['bitop', 'AND', 'user:d', 'x']).commands), ['u:d']);
  assert.deepEqual(keysOf(conv(['flushdb']).commands), [null]);
});

test("binlog: the KEYS of our own scripts are renamed, their other arguments are not", () => {
  const delvx = conv(['delvx', 'user:1', 'user:1']).commands;
  assert.deepEqual(delvx.map((c) => c.args.map(text)), [[DELETE_IF_VALUE_SCRIPT, '1', 'u:1', 'user:1']]);
  const vx = conv(['set', 'user:1', 'new', 'vx', 'old']).commands;
  assert.deepEqual(vx.map((c) => c.args.map(text)), [[SET_IF_VALUE_SCRIPT, '1', 'u:1', 'old', 'new']]);
  const legacy = conv(['pksetexat', 'user:1', '4102444800', 'v'], { legacyTarget: true }).commands;
  assert.deepEqual(legacy.map((c) => c.args.map(text)), [[SET_WITH_EXPIRY_SCRIPT, '1', 'u:1', 'v', 'EXPIREAT', '4102444800']]);
  assert.deepEqual(keysOf(legacy), ['u:1']);
  const expired = conv(['pksetexat', 'user:1', '1000', 'v']).commands;
  assert.deepEqual(shown(expired), ['DEL u:1']);
  const pattern = conv(['pkpatternmatchdel', 'user:*', 'string']);
  assert.ok(pattern.notes.some((n) => n.code === 'rename-pattern'), 'a pattern cannot be renamed: said so');
});

test('binlog: the filter sees the source names, the rename comes after it', () => {
  const filter = KeyFilter.from({ include: ['user:*'], exclude: [], types: null });
  assert.deepEqual(shown(conv(['set', 'user:1', 'v'], { filter }).commands), ['SET u:1 v']);
  const out = conv(['set', 'u:1', 'v'], { filter });
  assert.deepEqual(out.commands, [], 'u:1 is a source name outside the filter, whatever the target names');
  assert.deepEqual(shown(conv(['del', 'user:1', 'q:1'], { filter }).commands), ['DEL u:1']);
  const mixed = conv(['rpoplpush', 'user:a', 'q:b'], { filter });
  assert.deepEqual(mixed.commands, []);
  assert.ok(mixed.notes.some((n) => n.code === 'filter-mixed'));
});

test('snapshot records: every command of a key uses its new name, the guard key of skip/fail does not change', () => {
  const rec = (r: Partial<SnapshotRecord> & Pick<SnapshotRecord, 'type'>): SnapshotRecord =>
    ({ key: b('user:9'), first: true, last: true, expireAtMs: null, pos: { kind: 'snapshot', db: 0, seq: 0 }, ...r }) as SnapshotRecord;
  const merge = new SnapshotRecordConverter({ nowMs: () => 0, rename: renamer, maxItemsPerCommand: 2 });
  assert.deepEqual(shown(merge.convert(rec({ type: 'string', value: b('user:9'), expireAtMs: 5000 }))), ['SET u:9 user:9 PXAT 5000']);
  const hash = rec({ type: 'hash', key: b('user:vip:1'), fields: [[b('a'), b('1')], [b('b'), b('2')], [b('c'), b('3')]], expireAtMs: 9000 });
  assert.deepEqual(shown(merge.convert(hash)), ['HSET vip:1 a 1 b 2', 'HSET vip:1 c 3', 'PEXPIREAT vip:1 9000']);
  assert.deepEqual(keysOf(merge.convert(hash)), ['vip:1', 'vip:1', 'vip:1']);
  const replace = new SnapshotRecordConverter({ nowMs: () => 0, rename: renamer, conflict: 'replace' });
  assert.deepEqual(shown(replace.convert(rec({ type: 'set', key: b('s:x'), members: [b('m')] }))), ['DEL set:x', 'SADD set:x m']);
  const legacy = new SnapshotRecordConverter({ nowMs: () => 0, rename: renamer, legacyTarget: true });
  assert.deepEqual(
    legacy.convert(rec({ type: 'string', value: b('v'), expireAtMs: 5000 })).map((c) => c.args.map(text)),
    [[SET_WITH_EXPIRY_SCRIPT, '1', 'u:9', 'v', 'PEXPIREAT', '5000']],
  );
  const skip = new SnapshotRecordConverter({ nowMs: () => 0, rename: renamer, conflict: 'skip' });
  const guarded = skip.convert(rec({ type: 'list', elements: [b('e')] }));
  assert.deepEqual(guarded.map((c) => c.args.slice(0, 4).map(text)), [[GUARDED_WRITE_SCRIPT, '2', 'u:9', LOAD_GUARD_KEY]]);
  assert.deepEqual(guarded.map((c) => c.args.slice(6).map(text)), [['RPUSH', 'u:9', 'e']]);
  assert.deepEqual(keysOf(guarded), ['u:9']);
});

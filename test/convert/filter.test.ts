import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertEntry } from '../../src/convert/binlog.js';
import { globToRegExp } from '../../src/core/glob.js';
import { KeyFilter, commandType } from '../../src/convert/filter.js';

const b = (s: string) => Buffer.from(s, 'latin1');

test('globs follow Redis: *, ?, classes, ranges (reversed too), negation, escapes, any byte', () => {
  const m = (g: string, k: string) => globToRegExp(g).test(k);
  assert.ok(m('user:*', 'user:'));
  assert.ok(m('user:*', 'user:1/2\n3'), '* crosses / and newlines');
  assert.ok(!m('user:*', 'xuser:1'));
  assert.ok(m('h?llo', 'hallo') && !m('h?llo', 'hllo'));
  assert.ok(m('h[ae]llo', 'hello') && !m('h[ae]llo', 'hillo'));
  assert.ok(m('h[^e]llo', 'hallo') && !m('h[^e]llo', 'hello'));
  assert.ok(m('k[a-c]', 'kb') && m('k[c-a]', 'kb') && !m('k[a-c]', 'kd'));
  assert.ok(m('a\\*b', 'a*b') && !m('a\\*b', 'axb'));
  assert.ok(m('a.b', 'a.b') && !m('a.b', 'axb'), 'RegExp metacharacters are literal');
  assert.ok(m('bin\u00ff*', '\u00ff'.replace(/^/, 'bin')), 'bytes ≥ 0x80 match as themselves');
  assert.ok(m('[', '['), 'an unclosed [ is literal');
});

test('include, exclude (wins) and types', () => {
  const f = KeyFilter.from({ include: ['keep:*', 'also'], exclude: ['keep:no*'], types: ['string', 'hash'] })!;
  assert.ok(f.acceptsKey(b('keep:1')) && f.acceptsKey(b('also')));
  assert.ok(!f.acceptsKey(b('keep:nope')) && !f.acceptsKey(b('other')));
  assert.ok(f.acceptsType('hash') && !f.acceptsType('zset') && f.acceptsType(null));
  assert.equal(KeyFilter.from({ include: [], exclude: [], types: ['string', 'hash', 'list', 'set', 'zset'] }), null, 'no filter: no checks at all');
  assert.equal(commandType('hincrby'), 'hash');
  assert.equal(commandType('rpoplpush'), 'list');
  assert.equal(commandType('geoadd'), 'zset');
  assert.equal(commandType('pksetexat'), 'string');
  assert.equal(commandType('del'), null);
  assert.equal(commandType('xtrim'), 'stream');
  // Streams: copied when listed, or when all five other types are (confs from before streams).
  assert.ok(!f.acceptsType('stream'));
  assert.ok(KeyFilter.from({ include: [], exclude: [], types: ['string', 'stream'] })!.acceptsType('stream'));
  assert.ok(KeyFilter.from({ include: ['k*'], exclude: [], types: ['string', 'hash', 'list', 'set', 'zset'] })!.acceptsType('stream'));
});

test('binlog entries: keys and types outside the filter are dropped with a note; a command across the filter is refused', () => {
  const filter = KeyFilter.from({ include: [], exclude: ['secret:*'], types: ['string', 'hash', 'list', 'set'] });
  const conv = (...argv: string[]) =>
    convertEntry({ db: 0, execTime: 0, termOrServerId: 0, logicId: 0n, headerPos: { filenum: 0, offset: 0 }, argv: argv.map(b), end: { filenum: 0, offset: 10 } }, { family: 'C', nowMs: Date.now(), filter });
  const del = conv('del', 'a', 'secret:x', 'b');
  assert.deepEqual(del.commands.map((c) => c.args.map(String)), [['a'], ['b']]);
  assert.deepEqual(del.notes.map((n) => n.code), ['filtered']);
  assert.deepEqual(conv('set', 'secret:pw', 'x').commands, []);
  assert.equal(conv('zadd', 'z', '1', 'm').notes[0].code, 'filtered', 'zset is not among filter-types');
  assert.equal(conv('xadd', 'st', '1-1', 'f', 'v').notes[0].code, 'filtered', 'nor is stream');
  const mixed = conv('rpoplpush', 'secret:q', 'public:q');
  assert.deepEqual(mixed.commands, []);
  assert.equal(mixed.notes[0].code, 'filter-mixed');
  assert.equal(mixed.notes[0].level, 'warn');
  assert.equal(conv('rpoplpush', 'a', 'b').commands.length, 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPikaInternalKey, looksLikeHll3x } from '../../src/snapshot/pika/special-keys.js';

test('recognises Pika slot-migration keys by their prefixes only', () => {
  assert.equal(isPikaInternalKey(Buffer.from('_internal:slotkey:4migrate:17')), true);
  assert.equal(isPikaInternalKey(Buffer.from('_internal:slottag:4migrate:3456')), true);
  assert.equal(isPikaInternalKey(Buffer.from('_internal:slotkey:4migrat')), false);
  assert.equal(isPikaInternalKey(Buffer.from('user:_internal:slotkey:4migrate:1')), false);
});

test('takes a 3.x string for a HyperLogLog only with 131072 register bytes of ranks ≤ 16', () => {
  const regs = Buffer.alloc(131072);
  regs[5] = 3;
  regs[131071] = 16;
  assert.equal(looksLikeHll3x(regs, 0, regs.length), true);
  assert.equal(looksLikeHll3x(regs, 0, regs.length - 1), false);
  const bitmap = Buffer.from(regs);
  bitmap[77] = 0x80; // a bitmap with bit 616 set is not an HLL
  assert.equal(looksLikeHll3x(bitmap, 0, bitmap.length), false);
  assert.equal(looksLikeHll3x(Buffer.from('hello'), 0, 5), false);
});

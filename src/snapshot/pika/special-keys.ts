/**
 * Keys a snapshot holds that must not become plain Redis keys: Pika's slot-migration book-keeping
 * (storage.md §2.5) and HyperLogLogs in Pika's own register format (storage.md §2.1.4, §2.3.2).
 */

const INTERNAL_PREFIXES = [Buffer.from('_internal:slotkey:4migrate:'), Buffer.from('_internal:slottag:4migrate:')];

/** Pika 3.5+/4.0 `slotmigrate` sets; Pika book-keeping, not user data. */
export function isPikaInternalKey(key: Buffer): boolean {
  // Asked of every key of a load: the first byte settles nearly all of them without the compares.
  if (key.length === 0 || key[0] !== 0x5f) return false;
  for (const p of INTERNAL_PREFIXES) {
    if (key.length >= p.length && key.compare(p, 0, p.length, 0, p.length) === 0) return true;
  }
  return false;
}

/** Pika's HLL: 2^17 registers of one byte each (precision 17, blackwidow/storage `kPrecision`). */
export const HLL_REGISTERS = 1 << 17;
/** A register holds a rank of at most 32 − 17 + 1. */
const HLL_MAX_RANK = 16;

/**
 * 3.x stores HLLs as plain strings: recognise them by shape — exactly 131 072 bytes, every byte a
 * possible rank. A user string of that exact size made only of bytes 0–16 would be taken for one;
 * it is reported through `onSkipped`, never dropped silently.
 */
export function looksLikeHll3x(value: Buffer, start: number, end: number): boolean {
  if (end - start !== HLL_REGISTERS) return false;
  for (let i = start; i < end; i++) if (value[i] > HLL_MAX_RANK) return false;
  return true;
}

export const SKIP_HLL = 'hyperloglog (Pika register format, not Redis HYLL)';
export const SKIP_HLL_3X = 'hyperloglog (3.x: 131072 bytes of registers, recognised by shape)';
export const SKIP_INTERNAL = 'pika-internal slot-migration key';
export const SKIP_BAD_NAME_4 = 'unreadable 4.0.1 key name (NUL byte in the key: Pika 4.0.1 stored it mangled)';

/** One `old=>new` pair of `key-rename-prefix`, as written (text, UTF-8 on the wire). */
export interface KeyRenameRule {
  readonly from: string;
  readonly to: string;
}

/**
 * Parses `key-rename-prefix`: `old=>new` pairs separated by whitespace. A backslash takes the next
 * character as it is, so `\ ` is a space, `\\` a backslash and `\=>` an `=>` inside a prefix; `:`
 * needs no escaping (`user:=>u:`). An empty old prefix (`=>all:`) matches every key no other pair
 * matches; an empty new prefix strips the old one. Each old prefix at most once.
 */
export function parseKeyRenames(raw: string): KeyRenameRule[] {
  const rules: KeyRenameRule[] = [];
  let i = 0;
  const n = raw.length;
  while (i < n) {
    while (i < n && /\s/.test(raw[i])) i++;
    if (i >= n) break;
    const start = i;
    let from: string | null = null;
    let cur = '';
    for (; i < n && !/\s/.test(raw[i]); i++) {
      const c = raw[i];
      if (c === '\\') {
        if (i + 1 >= n) throw new Error(`a backslash ends "${raw.slice(start)}"; write \\\\ for a backslash`);
        cur += raw[++i];
      } else if (c === '=' && raw[i + 1] === '>') {
        if (from !== null) throw new Error(`"${raw.slice(start, nextSpace(raw, i))}" has two =>; escape one as \\=>`);
        from = cur;
        cur = '';
        i++;
      } else {
        cur += c;
      }
    }
    const pair = raw.slice(start, i);
    if (from === null) throw new Error(`"${pair}" is not an old=>new pair`);
    if (rules.some((r) => r.from === from)) throw new Error(`the prefix "${from}" is renamed twice`);
    rules.push({ from, to: cur });
  }
  return rules;
}

function nextSpace(s: string, from: number): number {
  const m = /\s/.exec(s.slice(from));
  return m === null ? s.length : from + m.index;
}

/**
 * Renames keys by prefix (`key-rename-prefix`): the longest matching old prefix is replaced by its
 * new one; keys no prefix matches stay as they are. Byte-wise, so binary keys work. It runs after
 * the key filters, which see the source names. Two source keys may end up as one target key
 * (`a:x` with `a:=>b:` and a source key `b:x`); that cannot be told in general and is the
 * operator's to avoid.
 */
export class KeyRenamer {
  private constructor(private readonly rules: ReadonlyArray<{ from: Buffer; to: Buffer }>) {}

  /** Null when there is nothing to rename: callers then skip the work entirely. */
  static from(rules: readonly KeyRenameRule[]): KeyRenamer | null {
    if (rules.length === 0) return null;
    const bytes = rules.map((r) => ({ from: Buffer.from(r.from, 'utf8'), to: Buffer.from(r.to, 'utf8') }));
    // Longest first, so the first match is the longest.
    bytes.sort((a, b) => b.from.length - a.from.length);
    return new KeyRenamer(bytes);
  }

  /** The target name of `key`; the same Buffer when no prefix matches. */
  apply(key: Buffer): Buffer {
    for (const r of this.rules) {
      if (key.length >= r.from.length && key.subarray(0, r.from.length).equals(r.from)) {
        return r.from.equals(r.to) ? key : Buffer.concat([r.to, key.subarray(r.from.length)]);
      }
    }
    return key;
  }
}

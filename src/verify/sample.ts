/** Full comparison, a fraction of the keys (each kept with probability `ratio`), or `count` keys drawn uniformly. */
export type Sampling = { readonly kind: 'all' } | { readonly kind: 'ratio'; readonly ratio: number } | { readonly kind: 'count'; readonly count: number };

/** `--sample`: an integer ≥ 1 is a count of keys, a number in (0, 1) a ratio. Null when it is neither. */
export function parseSampling(text: string | undefined): Sampling | null {
  if (text === undefined) return { kind: 'all' };
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text)) return null;
  const n = Number(text);
  if (Number.isInteger(n) && n >= 1 && !text.includes('.')) return { kind: 'count', count: n };
  if (n > 0 && n < 1) return { kind: 'ratio', ratio: n };
  return null;
}

/**
 * Keeps items of a stream according to `s`. A count keeps a uniform sample (reservoir, Algorithm
 * R): it holds at most `count` items and can only hand them out once the stream has ended.
 */
export async function* sampled<T>(items: AsyncIterable<T>, s: Sampling, random: () => number = Math.random): AsyncGenerator<T> {
  if (s.kind === 'all') {
    yield* items;
    return;
  }
  if (s.kind === 'ratio') {
    for await (const it of items) if (random() < s.ratio) yield it;
    return;
  }
  const kept: T[] = [];
  let seen = 0;
  for await (const it of items) {
    seen++;
    if (kept.length < s.count) kept.push(it);
    else {
      const j = Math.floor(random() * seen);
      if (j < s.count) kept[j] = it;
    }
  }
  yield* kept;
}

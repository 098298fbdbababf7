/**
 * `work`, or `late()` thrown once `ms` have passed without it settling. The work itself is not
 * cancelled: the caller closes what it was waiting on (a connection) when this throws.
 */
export async function within<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The V8 flags the shipped CLI runs with, read from src/cli.ts's shebang (their one home), for
 * tests and benchmarks that start the CLI through `node …` and must measure what users run.
 */
import { readFileSync } from 'node:fs';

export function shippedNodeFlags(): string[] {
  const cli = new URL('../../src/cli.ts', import.meta.url);
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  if (m === null) throw new Error(`src/cli.ts: unexpected shebang ${first}`);
  return m[1].split(' ').filter((f) => f !== '');
}

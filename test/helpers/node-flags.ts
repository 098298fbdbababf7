/**
 * How the shipped CLI starts, read from src/cli.ts's shebang (the one home of these settings):
 * `#!/usr/bin/env -S NAME=value … node --flag …`. Tests and benchmarks that start the CLI through
 * `node …` pass both, to measure what users run.
 */
import { readFileSync } from 'node:fs';

function shebang(): { env: Record<string, string>; flags: string[] } {
  const cli = new URL('../../src/cli.ts', import.meta.url);
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S ((?:\w+=\S+ )*)node((?: --\S+)*)$/.exec(first);
  if (m === null) throw new Error(`src/cli.ts: unexpected shebang ${first}`);
  const env = Object.fromEntries(m[1].split(' ').filter((a) => a !== '').map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  return { env, flags: m[2].split(' ').filter((f) => f !== '') };
}

export function shippedNodeFlags(): string[] {
  return shebang().flags;
}

/** The process environment with the shebang's variables added. */
export function shippedEnv(): NodeJS.ProcessEnv {
  return { ...process.env, ...shebang().env };
}

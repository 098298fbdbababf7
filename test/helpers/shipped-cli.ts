/**
 * The CLI as users run it: the build (`dist/src/cli.js`, what `npm start` and the Docker image
 * start) with the settings of its shebang, `#!/usr/bin/env -S NAME=value … node --flag …`, read
 * from src/cli.ts (their one home). Tests that start the CLI in a process of its own run the build,
 * not the sources through tsx: the same code as shipped, and ~0.4 s less CPU per start, which the
 * kill tests pay dozens of times. `npm test` builds first.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BUILT_CLI = join(ROOT, 'dist/src/cli.js');

function shebang(): { env: Record<string, string>; flags: string[] } {
  const first = readFileSync(join(ROOT, 'src/cli.ts'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S ((?:\w+=\S+ )*)node((?: --\S+)*)$/.exec(first);
  if (m === null) throw new Error(`src/cli.ts: unexpected shebang ${first}`);
  const env = Object.fromEntries(m[1].split(' ').filter((a) => a !== '').map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  return { env, flags: m[2].split(' ').filter((f) => f !== '') };
}

export function shippedNodeFlags(): string[] {
  return shebang().flags;
}

/** The process environment with the shebang's variables added, then `extra`. */
export function shippedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...shebang().env, ...extra };
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let checked = false;

/** Throws unless the build is at least as new as every source file: a stale one would test old code. */
function assertBuilt(): void {
  if (checked) return;
  let built: number;
  try {
    built = statSync(BUILT_CLI).mtimeMs;
  } catch {
    throw new Error(`${BUILT_CLI} is missing: run npm run build (npm test does)`);
  }
  if (newestSource(join(ROOT, 'src')) > built) throw new Error(`${BUILT_CLI} is older than src/: run npm run build (npm test does)`);
  checked = true;
}

/** node's arguments to run the built CLI with `args`, as users do (pass `shippedEnv()` as its environment). */
export function cliArgs(...args: string[]): string[] {
  return cliArgsWith([], ...args);
}

/** cliArgs with more node flags after the shipped ones (a benchmark's `--cpu-prof`). */
export function cliArgsWith(nodeFlags: readonly string[], ...args: string[]): string[] {
  assertBuilt();
  return [...shippedNodeFlags(), ...nodeFlags, BUILT_CLI, ...args];
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs the real redis-cli (Debian's redis-tools) against a port and returns its stdout. */
export async function redisCli(port: number, args: string[], opts: { password?: string } = {}): Promise<string> {
  const base = ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning'];
  if (opts.password !== undefined) base.push('-a', opts.password);
  const { stdout } = await run('redis-cli', [...base, ...args], { timeout: 10_000 });
  return stdout;
}

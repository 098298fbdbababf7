import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';

/**
 * Child processes that must not outlive us (the rsync daemon the master pushes into): a survivor
 * keeps its port, and every later start of ours then fails to bind it.
 */

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

let setprivFound: boolean | null = null;

/**
 * Spawns `cmd` so that the kernel kills it when we die, even by SIGKILL: through util-linux's
 * `setpriv --pdeathsig KILL`, which sets PR_SET_PDEATHSIG (not reachable from Node) and execs
 * `cmd` in the same pid. `tied` is false when setpriv is missing: the child then survives a
 * SIGKILL of ours until killStale finds it at the next start.
 */
export function spawnTied(cmd: string, args: readonly string[], opts: SpawnOptions): { proc: ChildProcess; tied: boolean } {
  setprivFound ??= onPath('setpriv');
  if (!setprivFound) return { proc: spawn(cmd, args, opts), tied: false };
  return { proc: spawn('setpriv', ['--pdeathsig', 'KILL', cmd, ...args], opts), tied: true };
}

function argvOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
}

/** Whether `pid` runs `cmd` (by the basename of argv[0]) with `mark` among its arguments. */
export function runsWith(pid: number, cmd: string, mark: string): boolean {
  const argv = argvOf(pid);
  return argv !== null && argv.length > 0 && basename(argv[0]) === cmd && argv.includes(mark);
}

/**
 * The daemon a previous run of ours left behind: the pid in `pidFile`, when that process runs
 * `cmd` with `mark` (our own conf file) among its arguments; a pid file naming another program
 * (the pid was reused) is not ours. Only the listener: the per-connection processes it forked do
 * not hold the port, and one still receiving a file from the master is let finish (killing it
 * would fail the master's push halfway, while our restart's DBSync may already have been ignored
 * as a duplicate of that push).
 */
export function staleProcesses(pidFile: string, cmd: string, mark: string): number[] {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && runsWith(pid, cmd, mark)) return [pid];
  } catch {
    // no pid file
  }
  return [];
}

/** SIGKILLs `pids` and waits (up to `timeoutMs`) until none runs `cmd` with `mark` any more. */
export async function killAndWait(pids: readonly number[], cmd: string, mark: string, timeoutMs = 3000): Promise<number[]> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter((pid) => runsWith(pid, cmd, mark));
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}

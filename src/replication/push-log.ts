/**
 * What our rsync daemon's log says about an A/B master's push (spec §4.1, observed N5): the master
 * runs one `rsync` per type dir of the DB, each a session of its own with its own pid, and the
 * daemon logs the session's start (`[pid] rsync to document/db0/strings/ from …`) and, when the
 * session has exited with code 0 and so has renamed every file into place, `[pid] sent … bytes
 * received … bytes total size …` (any other exit logs `[pid] rsync error: …` instead).
 */

const START = /\[(\d+)\] rsync to ([^\s]+) from /;
const SENT = /\[(\d+)\] sent \d+ bytes\s+received \d+ bytes\s+total size \d+/;
const ERROR = /\[(\d+)\] rsync error: /;

/** The type dirs of `<module>/<dbName>/` with a push session that ended with code 0, from the daemon's log text. */
export function pushedDirs(log: string, module: string, dbName: string): Set<string> {
  const prefix = `${module}/${dbName}/`;
  const dirOf = new Map<string, string>();
  const done = new Set<string>();
  for (const line of log.split('\n')) {
    const start = START.exec(line);
    if (start !== null) {
      const path = start[2];
      // Only whole type dirs (`db0/strings/`); `db0/info` and other DBs are not ours to track here.
      if (path.startsWith(prefix) && path.endsWith('/') && !path.slice(prefix.length, -1).includes('/')) dirOf.set(start[1], path.slice(prefix.length, -1));
      continue;
    }
    const sent = SENT.exec(line);
    if (sent !== null) {
      const dir = dirOf.get(sent[1]);
      if (dir !== undefined) done.add(dir);
      dirOf.delete(sent[1]);
      continue;
    }
    // A session that failed leaves its dir as it was, perhaps with a partial file under its own name (--partial).
    const error = ERROR.exec(line);
    if (error !== null) dirOf.delete(error[1]);
  }
  return done;
}

import { createHash, timingSafeEqual } from 'node:crypto';
import { globToRegExp } from '../core/glob.js';
import { OK, SimpleString, type Reply } from './resp.js';
import type { Session } from './server.js';

/** What the admin commands act on; the daemon implements it. */
export interface AdminContext {
  /** The admin password's exact bytes (empty: none). */
  readonly requirepass: () => Buffer;
  readonly info: (section?: string) => string;
  /** Throws an Error whose message becomes the `-ERR …` reply. */
  readonly slaveof: (host: string, port: number, force: boolean) => Promise<void>;
  readonly slaveofNoOne: () => Promise<void>;
  /** Every config key with its current value, for CONFIG GET. */
  readonly configValues: () => ReadonlyMap<string, string>;
  /** CONFIG SET of one key; throws an Error whose message becomes the `-ERR …` reply. */
  readonly configSet: (key: string, value: string) => void;
  readonly shutdown: () => void;
  /** Told of every command that runs (known and authenticated), for INFO's Command_Exec_Count. */
  readonly executed: (name: string) => void;
}

/** `args` are the request decoded as UTF-8 for the usual handler; `argv` are its exact bytes. */
type Handler = (args: string[], session: Session, ctx: AdminContext, argv: Buffer[]) => Reply | Promise<Reply>;

interface Spec {
  /** Redis arity: positive = exact argc (incl. name), negative = at least |arity|. */
  readonly arity: number;
  readonly noAuth?: boolean;
  readonly run: Handler;
}

const err = (msg: string) => new Error(`ERR ${msg}`);

// A Map, not an object literal: a lookup of `constructor` or `__proto__` must not find
// Object.prototype's members.
const table: ReadonlyMap<string, Spec> = new Map(Object.entries({
  ping: { arity: -1, run: (a) => (a.length > 1 ? a[1] : new SimpleString('PONG')) },
  echo: { arity: 2, run: (a) => a[1] },
  auth: { arity: -2, noAuth: true, run: auth },
  quit: {
    arity: -1,
    noAuth: true,
    run: (_a, s) => {
      s.closeAfterReply = true;
      return OK;
    },
  },
  info: { arity: -1, run: (a, _s, ctx) => ctx.info(a[1]) },
  slaveof: { arity: -3, run: slaveof },
  replicaof: { arity: -3, run: slaveof },
  config: { arity: -2, run: config },
  shutdown: {
    arity: -1,
    run: (_a, s, ctx) => {
      s.closeAfterReply = true;
      ctx.shutdown();
      return OK;
    },
  },
  command: { arity: -1, run: command },
  select: { arity: 2, run: (a) => (a[1] === '0' ? OK : err('DB index is out of range')) },
  client: { arity: -2, run: client },
} satisfies Record<string, Spec>));

/** Runs one request from the admin port. */
export async function runAdminCommand(argv: Buffer[], session: Session, ctx: AdminContext): Promise<Reply> {
  const args = argv.map((b) => b.toString('utf8'));
  const name = args[0].toLowerCase();
  const spec = table.get(name);
  if (spec === undefined) {
    const shown = args.slice(1, 4).map((a) => `'${a}'`).join(' ');
    return err(`unknown command '${args[0]}', with args beginning with: ${shown}`);
  }
  if (!session.authenticated && !spec.noAuth) return new Error('NOAUTH Authentication required.');
  if ((spec.arity > 0 && args.length !== spec.arity) || (spec.arity < 0 && args.length < -spec.arity)) {
    return err(`wrong number of arguments for '${name}' command`);
  }
  ctx.executed(name);
  return spec.run(args, session, ctx, argv);
}

function auth(args: string[], session: Session, ctx: AdminContext, argv: Buffer[]): Reply {
  const expected = ctx.requirepass();
  if (args.length > 3) return err("wrong number of arguments for 'auth' command");
  if (expected.length === 0) return err('AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  const userOk = args.length === 2 || args[1] === 'default';
  // Bytes, not text (two invalid UTF-8 bytes would decode alike), hashed to equal lengths so the
  // comparison takes the same time whatever the length of either.
  const given = createHash('sha256').update(argv[argv.length - 1]).digest();
  const want = createHash('sha256').update(expected).digest();
  if (timingSafeEqual(given, want) && userOk) {
    session.authenticated = true;
    return OK;
  }
  return new Error('WRONGPASS invalid username-password pair or user is disabled.');
}

async function slaveof(args: string[], _s: Session, ctx: AdminContext): Promise<Reply> {
  if (args.length === 3 && args[1].toLowerCase() === 'no' && args[2].toLowerCase() === 'one') {
    await ctx.slaveofNoOne();
    return OK;
  }
  if (args.length > 4) return err(`wrong number of arguments for '${args[0].toLowerCase()}' command`);
  const force = args.length === 4;
  if (force && args[3].toLowerCase() !== 'force') return err('syntax error');
  if (!/^\d+$/.test(args[2]) || Number(args[2]) < 1 || Number(args[2]) > 65535) return err('Invalid master port');
  try {
    await ctx.slaveof(args[1], Number(args[2]), force);
  } catch (e) {
    return err((e as Error).message);
  }
  return OK;
}

function config(args: string[], _s: Session, ctx: AdminContext): Reply {
  // CONFIG GET pattern | CONFIG SET key value (only the keys changeable at run time)
  const sub = args[1].toLowerCase();
  if (sub === 'get') {
    if (args.length !== 3) return err("wrong number of arguments for 'config|get' command");
    const re = globToRegExp(args[2], { ignoreCase: true });
    const out: string[] = [];
    for (const [k, v] of ctx.configValues()) if (re.test(k)) out.push(k, v);
    return out;
  }
  if (sub === 'set') {
    if (args.length !== 4) return err("wrong number of arguments for 'config|set' command");
    try {
      ctx.configSet(args[2].toLowerCase(), args[3]);
    } catch (e) {
      return err((e as Error).message);
    }
    return OK;
  }
  return err(`CONFIG subcommand '${args[1]}' is not supported by pika-migrate (supported: GET, SET)`);
}

function client(args: string[], s: Session): Reply {
  const sub = args[1].toLowerCase();
  if (sub === 'setname') return OK;
  if (sub === 'getname') return null;
  if (sub === 'info') return `addr=${s.remote}\n`;
  return err(`unknown subcommand '${args[1]}'. Try CLIENT SETNAME, GETNAME, INFO.`);
}

function command(args: string[]): Reply {
  const sub = args[1]?.toLowerCase();
  if (sub === 'count') return table.size;
  // redis-cli asks for COMMAND DOCS at start-up to offer hints; no docs is a valid answer.
  if (sub === 'docs') return [];
  if (sub !== undefined) return err(`unknown subcommand '${args[1]}'. Try COMMAND COUNT, DOCS.`);
  return [...table].map(([name, spec]): Reply => [name, spec.arity, [], 0, 0, 0]);
}

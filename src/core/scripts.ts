/**
 * Lua scripts that give Redis semantics it has no command for: the Pika-only binlog forms
 * (replication.md §5.4) and the skip/fail conflict policies of a snapshot load. Each runs
 * atomically, so a script stands for exactly one source command.
 *
 * Converters emit them as `EVAL script numkeys …`, which is what they mean on their own. The sink
 * cannot send an EVAL inside its batch script (Redis forbids EVAL from a script), so it runs each
 * of these as a function inlined in the batch script instead; `INLINE_SCRIPTS` is that list, and
 * an EVAL of any other script is refused there.
 */

/**
 * `set k v vx t [ex s | px ms]`: set `k` to `v` only when its current string value is `t`.
 * Pika keeps strings apart from other types: a non-string key of that name is "no string", so the
 * script checks TYPE instead of letting GET fail with WRONGTYPE.
 * KEYS[1] = k; ARGV[1] = t; ARGV[2] = v; ARGV[3..] = options passed on to SET (EX s / PX ms).
 */
export const SET_IF_VALUE_SCRIPT = `
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], unpack(ARGV, 3))
  return 1
end
return 0
`.trim();

/** `delvx k v`: delete `k` only when its string value is `v`. KEYS[1] = k; ARGV[1] = v. */
export const DELETE_IF_VALUE_SCRIPT = `
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`.trim();

/**
 * `pkpatternmatchdel` and `flushdb <type>`: delete the keys matching a glob (Pika and Redis share
 * the matcher) and, when ARGV[2] is not empty, of that Redis TYPE. ARGV[3] > 0 caps the count the
 * way 3.5.5 does: Pika deletes the first keys of its key-ordered scan, so the capped variant
 * collects the matches and deletes the smallest ones. Returns the number of keys deleted.
 * ARGV[1] = pattern; ARGV[2] = type or ''; ARGV[3] = limit (0 = none).
 * Checks TYPE per key rather than `SCAN … TYPE` (Redis 6.0+), and asks for effects replication
 * (needed before 5.0 to write after SCAN), so it runs on old targets too. It blocks the target for
 * the whole scan: on a large DB that is seconds (clients see BUSY after `lua-time-limit`).
 */
export const DELETE_MATCHING_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local pattern, typ, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cursor, n, found, seen = '0', 0, {}, {}
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    if typ ~= '' and redis.call('TYPE', k).ok ~= typ then
      -- another type: kept
    elseif limit == 0 then
      n = n + redis.call('DEL', k)
    elseif not seen[k] then
      seen[k] = true
      found[#found + 1] = k
    end
  end
until cursor == '0'
if limit > 0 then
  table.sort(found)
  for i = 1, math.min(limit, #found) do n = n + redis.call('DEL', found[i]) end
end
return n
`.trim();

/**
 * SET with an absolute expiry for targets older than Redis 6.2 (no `SET … EXAT/PXAT`), atomic.
 * KEYS[1] = k; ARGV[1] = v; ARGV[2] = `EXPIREAT` or `PEXPIREAT`; ARGV[3] = timestamp.
 */
export const SET_WITH_EXPIRY_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1])
return redis.call(ARGV[2], KEYS[1], ARGV[3])
`.trim();

/**
 * A stream write that can leave the stream empty (XDEL, XTRIM, XADD with MAXLEN/MINID): Pika takes
 * a length-0 stream for no stream (its next XADD starts afresh, from ID 0-0; SCAN passes it by),
 * while Redis keeps an empty stream with its last ID. So an emptied stream is deleted, as on Pika.
 * KEYS[1] = the stream; ARGV[1] = the command; ARGV[2..] = its arguments after the key.
 */
export const STREAM_SHRINK_SCRIPT = `
local r = redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return r
`.trim();

/**
 * SET that keeps the key's expiry (`SET … KEEPTTL`) for targets older than Redis 6.2, atomic.
 * KEYS[1] = k; ARGV[1] = v.
 */
export const SET_KEEP_TTL_SCRIPT = `
local t = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
if t > 0 then redis.call('PEXPIRE', KEYS[1], t) end
return 1
`.trim();

/** Error code of a write refused by `conflict-policy : skip` (the key existed on the target). */
export const KEY_SKIPPED_CODE = 'PMKEYSKIPPED';
/** Error code of a write refused by `conflict-policy : fail`. */
export const KEY_EXISTS_CODE = 'PMKEYEXISTS';
/** Hash holding the keys whose remaining chunks a skip/fail policy must also refuse. */
export const LOAD_GUARD_KEY = 'pika-migrate:load-guard';

/**
 * One command of a snapshot key under `conflict-policy : skip` or `fail`. The decision is taken
 * at the key's first command: a key already on the target is not touched, and when more commands
 * of it follow (big keys come in chunks, an expiry comes last) the key is noted in the guard hash
 * so they are refused too; its last command clears the note. Refusals are error replies with the
 * codes above, so the sink counts and reports every kept key.
 * KEYS[1] = key; KEYS[2] = guard hash; ARGV[1] = 'skip' | 'fail'; ARGV[2] = 'f' (first), 'l'
 * (last), 'fl' or '-'; ARGV[3..] = the command (name first), or nothing when only the guard's
 * note is to be cleared.
 */
export const GUARDED_WRITE_SCRIPT = `
local first = string.find(ARGV[2], 'f', 1, true)
local last = string.find(ARGV[2], 'l', 1, true)
if first then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    if not last then redis.call('HSET', KEYS[2], KEYS[1], '1') end
    if ARGV[1] == 'fail' then
      return redis.error_reply('${KEY_EXISTS_CODE} key already exists on the target (conflict-policy fail)')
    end
    return redis.error_reply('${KEY_SKIPPED_CODE} key already exists on the target; kept as it is (conflict-policy skip)')
  end
elseif redis.call('HEXISTS', KEYS[2], KEYS[1]) == 1 then
  if last then redis.call('HDEL', KEYS[2], KEYS[1]) end
  return 0
end
if #ARGV >= 3 then redis.call(unpack(ARGV, 3)) end
return 1
`.trim();

/** The scripts the sink can run inside a batch, in a fixed order (their index names them there). */
export const INLINE_SCRIPTS: readonly string[] = [
  SET_IF_VALUE_SCRIPT,
  DELETE_IF_VALUE_SCRIPT,
  DELETE_MATCHING_SCRIPT,
  SET_WITH_EXPIRY_SCRIPT,
  GUARDED_WRITE_SCRIPT,
  STREAM_SHRINK_SCRIPT,
  SET_KEEP_TTL_SCRIPT,
];

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
import { clusterSlot, slotTag } from './cluster-slot.js';

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

/**
 * `RPOP k` then `LPUSH k v` as one step, the form C/D masters log RPOPLPUSH k k in (v = the element
 * popped; convert/binlog.ts pairs the two entries). Run as two commands, a list of one element is
 * emptied in between: Redis deletes it and its TTL, and the LPUSH makes a new list without one,
 * where the master's list never stopped existing. So when k's last element is v, RPOPLPUSH k k;
 * otherwise (a client's own RPOP and LPUSH of another value) the two commands. Errors are returned,
 * as the multi-type rule's commands' are.
 */
const LIST_ROTATE_LUA = `
local function lrotate(k, v)
  local last = redis.pcall('LINDEX', k, -1)
  if type(last) == 'table' and last.err then return last end
  if last == v then return redis.pcall('RPOPLPUSH', k, k) end
  local r = redis.pcall('RPOP', k)
  if type(r) == 'table' and r.err then return r end
  return redis.pcall('LPUSH', k, v)
end`;

/** KEYS[1] = k; ARGV[1] = v (LIST_ROTATE_LUA). Under the multi-type rule it is `@LROTATE k v` inside TYPED_WRITE_SCRIPT. */
export const LIST_ROTATE_SCRIPT = `${LIST_ROTATE_LUA}
return lrotate(KEYS[1], ARGV[1])`.trim();

/** The multi-type rule's name for LIST_ROTATE_SCRIPT's step, which a script cannot EVAL. */
export const LIST_ROTATE_COMMAND = '@LROTATE';

/** Prefix of the keys a value too big for one command is built in (stagingKey). */
export const STAGING_KEY_PREFIX = 'pika-migrate:staging';

/**
 * Where a value too big for one command (a hash field's value or a list element of several MiB,
 * which Redis cannot write in parts) is built piece by piece, `SET` then `SETRANGE`s, before
 * UNSTAGE_SCRIPT moves it into `key`: one per key, in `key`'s cluster slot, so that one script may
 * touch both.
 */
export function stagingKey(key: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${STAGING_KEY_PREFIX}{${slotTag(clusterSlot(key))}}:`), key]);
}

/** Error code of a move whose staged value is not whole (the target lost it): never a wrong or empty value. */
export const STAGING_LOST_CODE = 'PMSTAGINGLOST';

/**
 * unstage(k, s, argv, i): moves the value built in staging key `s` into `k` with the command
 * argv[i+1] (HSET, RPUSH), whose arguments between the key and the value are argv[i+2..], once
 * its SHA-1 is argv[i]. A staged value that is not whole is never moved: a Redis Cluster target
 * may run a step twice (at-least-once), and pieces sent again after the move build a partial
 * value; a field that already holds the value is then left as it is.
 */
const UNSTAGE_LUA = `
local function unstage(k, s, argv, i)
  local v = redis.call('GET', s)
  redis.call('DEL', s)
  if v and redis.sha1hex(v) == argv[i] then
    local args = {argv[i + 1], k}
    for j = i + 2, #argv do args[#args + 1] = argv[j] end
    args[#args + 1] = v
    return redis.call(unpack(args))
  end
  if argv[i + 1] == 'HSET' then
    local cur = redis.call('HGET', k, argv[i + 2])
    if cur and redis.sha1hex(cur) == argv[i] then return 0 end
  end
  return redis.error_reply('${STAGING_LOST_CODE} the value staged for this key is not whole on the target (lost by a restart?)')
end`;

/**
 * The last step of a value built in a staging key (stagingKey): `HSET k field v` or `RPUSH k v`
 * with the staged value, which is deleted. KEYS[1] = k; KEYS[2] = staging key; ARGV[1] = the
 * value's SHA-1 (hex); ARGV[2] = the command; ARGV[3..] = its arguments between the key and the
 * value. Inside GUARDED_WRITE_SCRIPT it is the command `@UNSTAGE s sha1 cmd args…` (a script
 * cannot EVAL).
 */
export const UNSTAGE_SCRIPT = `${UNSTAGE_LUA}
return unstage(KEYS[1], KEYS[2], ARGV, 1)`.trim();

/** GUARDED_WRITE_SCRIPT's name for UNSTAGE_SCRIPT's step. */
export const UNSTAGE_COMMAND = '@UNSTAGE';

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
 * (last), 'fl' or '-'; ARGV[3..] = the command (name first; `@UNSTAGE s sha1 cmd args…` for
 * UNSTAGE_SCRIPT's step), or nothing when only the guard's note is to be cleared.
 */
export const GUARDED_WRITE_SCRIPT = `${UNSTAGE_LUA}
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
if ARGV[3] == '${UNSTAGE_COMMAND}' then
  local r = unstage(KEYS[1], ARGV[4], ARGV, 5)
  if type(r) == 'table' and r.err then return r end
elseif #ARGV >= 3 then redis.call(unpack(ARGV, 3)) end
return 1
`.trim();

/** Prefix of the side names that hold the other types of a name held in several types (3.x masters). */
export const SIDE_KEY_PREFIX = 'pika-migrate:t:';
/**
 * Zset of the names whose value expires while side names of theirs exist, scored by when (ms):
 * Redis expires the name's value on its own, and the side name next in type-order must then take
 * the name (SETTLE_EXPIRED_SCRIPT, run every second while the binlog is followed).
 */
export const SIDE_EXPIRY_KEY = 'pika-migrate:side-expiry';

/** The side name of type `type` of the (target) name `key`: `pika-migrate:t:<type>:<key>`. */
export function sideKey(type: string, key: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${SIDE_KEY_PREFIX}${type}:`), key]);
}

/** Set of the names that have side names: a name not in it takes the fast path (one TYPE). */
export const MULTI_TYPE_NAMES_KEY = 'pika-migrate:multi-type';

/**
 * The multi-type rule as a Lua library, `MT`, defined once per script (the batch script defines it
 * once per batch, so type-order is parsed once per batch). `MT.settle(k)`: the first type in the
 * order that exists takes the name (RENAME, so its TTL goes with it). `MT.note(k)`: keeps
 * MULTI_TYPE_NAMES_KEY and SIDE_EXPIRY_KEY true for k. `MT.write(KEYS, ARGV)`: TYPED_WRITE_SCRIPT.
 */
export const MULTI_TYPE_LUA = `
local MT = {}
do
${LIST_ROTATE_LUA}
  -- A command, or LIST_ROTATE_COMMAND's step.
  local function exec(...)
    if ... == '${LIST_ROTATE_COMMAND}' then return lrotate(select(2, ...)) end
    return redis.pcall(...)
  end
  local order, rank, orderText = {}, {}, nil
  local indexEmpty = nil
  local function setOrder(text)
    if text == orderText then return end
    order, rank, orderText = {}, {}, text
    for t in string.gmatch(text, '[^,]+') do
      order[#order + 1] = t
      rank[t] = #order
    end
  end
  local function side(t, k) return '${SIDE_KEY_PREFIX}' .. t .. ':' .. k end
  local function hasSides(k)
    if indexEmpty == nil then indexEmpty = redis.call('EXISTS', '${MULTI_TYPE_NAMES_KEY}') == 0 end
    return not indexEmpty and redis.call('SISMEMBER', '${MULTI_TYPE_NAMES_KEY}', k) == 1
  end
  local function settle(k)
    local mt = redis.call('TYPE', k).ok
    local limit = (mt == 'none') and #order or ((rank[mt] or 1) - 1)
    for i = 1, limit do
      local s = side(order[i], k)
      if redis.call('EXISTS', s) == 1 then
        if mt ~= 'none' then redis.call('RENAME', k, side(mt, k)) end
        redis.call('RENAME', s, k)
        return
      end
    end
  end
  local function note(k)
    local sides = {}
    for i, t in ipairs(order) do sides[i] = side(t, k) end
    if redis.call('EXISTS', unpack(sides)) == 0 then
      redis.call('SREM', '${MULTI_TYPE_NAMES_KEY}', k)
      return
    end
    redis.call('SADD', '${MULTI_TYPE_NAMES_KEY}', k)
    indexEmpty = false
    local ttl = redis.call('PTTL', k)
    if ttl >= 0 then
      local now = redis.call('TIME')
      redis.call('ZADD', '${SIDE_EXPIRY_KEY}', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + ttl, k)
    end
  end
  local function place(k, typ, write)
    local mt = redis.call('TYPE', k).ok
    if mt == typ then return k end
    if mt == 'none' then
      settle(k)
      mt = redis.call('TYPE', k).ok
      if mt == 'none' or mt == typ then return k end
    end
    if write and (rank[typ] or 99) < (rank[mt] or 99) and redis.call('EXISTS', side(typ, k)) == 0 then
      redis.call('RENAME', k, side(mt, k))
      return k
    end
    return side(typ, k)
  end
  function MT.settle(k, text)
    setOrder(text)
    settle(k)
    note(k)
  end
  function MT.note(k, text)
    setOrder(text)
    note(k)
  end
  -- Fast path: no side names and no other type under the names t[from..to]: the command as it is.
  local function plain(t, from, to, typ)
    for i = from, to do
      local k = t[i]
      if hasSides(k) then return false end
      if typ ~= '*' then
        local mt = redis.call('TYPE', k).ok
        if mt ~= typ and mt ~= 'none' then return false end
      end
    end
    return true
  end
  local function slow(KEYS, ARGV)
    local typ, roles = ARGV[2], ARGV[3]
    local cmd = {}
    for i = 5, #ARGV do cmd[#cmd + 1] = ARGV[i] end
    local at = {}
    for p in string.gmatch(ARGV[4], '[^,]+') do at[#at + 1] = tonumber(p) end
    local k1 = KEYS[1]
    if string.sub(roles, 1, 1) == 'a' then
      local r = exec(unpack(cmd))
      for _, t in ipairs(order) do
        local s = side(t, k1)
        if redis.call('EXISTS', s) == 1 then
          cmd[at[1]] = s
          exec(unpack(cmd))
        end
      end
      settle(k1)
      note(k1)
      return r
    end
    -- Sources first: a destination's place may move its other type aside, and a source of the same
    -- name placed after that would find the name empty and settle that type back under it.
    for i = 1, #KEYS do
      if string.sub(roles, i, i) ~= 'w' then cmd[at[i]] = place(KEYS[i], typ, false) end
    end
    for i = 1, #KEYS do
      if string.sub(roles, i, i) == 'w' then cmd[at[i]] = place(KEYS[i], typ, true) end
    end
    local r = exec(unpack(cmd))
    for i = 1, #KEYS do
      settle(KEYS[i])
      note(KEYS[i])
    end
    return r
  end
  function MT.write(KEYS, ARGV)
    setOrder(ARGV[1])
    if plain(KEYS, 1, #KEYS, ARGV[2]) then return exec(unpack(ARGV, 5)) end
    return slow(KEYS, ARGV)
  end
  -- The batch script's run of typed SETs: t = {'@TSET', order, k1, v1, k2, v2, …}. Names on the
  -- fast path are set by one MSET; any other flushes those before it and goes the slow way.
  function MT.sets(t, c)
    setOrder(t[2])
    local buf = {'MSET'}
    local err = nil
    for i = 3, c, 2 do
      local k = t[i]
      if plain(t, i, i, 'string') then
        buf[#buf + 1] = k
        buf[#buf + 1] = t[i + 1]
      else
        if #buf > 1 then
          redis.call(unpack(buf))
          buf = {'MSET'}
        end
        local r = slow({k}, {t[2], 'string', 'w', '2', 'SET', k, t[i + 1]})
        if type(r) == 'table' and r.err then err = err or r end
      end
    end
    if #buf > 1 then redis.call(unpack(buf)) end
    return err or 'OK'
  end
  -- The batch script's form: t = {name, numkeys, keys…, ARGV…} as unpacked, c = #t; no tables
  -- are built on the fast path.
  function MT.run(t, c)
    local a = 2 + tonumber(t[2])
    setOrder(t[a + 1])
    if plain(t, 3, a, t[a + 2]) then return exec(unpack(t, a + 5, c)) end
    local KEYS, ARGV = {}, {}
    for i = 3, a do KEYS[#KEYS + 1] = t[i] end
    for i = a + 1, c do ARGV[#ARGV + 1] = t[i] end
    return slow(KEYS, ARGV)
  end
end
`;

/**
 * One write of a Pika 3.x master, where one name holds a separate value per type, applied under
 * the multi-type rule: the name itself holds the first type in `type-order` that the master holds,
 * every other type lives under its side name (sideKey). A name without side names whose value is
 * of the command's type (or absent) takes the command as it is. Otherwise each key of the command
 * is resolved to where its type lives: a key it reads (role 'r') to the name when the name holds
 * that type, else to the side name (absent there = empty, as in Pika); a key it writes (role 'w')
 * the same way, except that a type the name does not hold yet and that comes before the name's
 * type in the order moves the name's value to its side name first. Role 'a' (DEL, EXPIRE…,
 * PERSIST: all types in Pika 3.x) applies the command to the name and each side name that exists.
 * After the command every name it touched is settled again, and the indexes are kept (MT.note).
 * KEYS = the command's keys, in order; ARGV[1] = type-order, comma separated; ARGV[2] = the type the
 * command works on ('*' for role 'a'); ARGV[3] = one role per key; ARGV[4] = the command's argv
 * positions (1 = its name) holding KEYS[i], comma separated; ARGV[5..] = the command, name first.
 * Returns the command's own reply. Inside a batch it runs as `MT.write` (TYPED_WRITE_INLINE).
 */
export const TYPED_WRITE_INLINE = 'return MT.write(KEYS, ARGV)';
export const TYPED_WRITE_SCRIPT = `${MULTI_TYPE_LUA}
${TYPED_WRITE_INLINE}`;

/**
 * After a snapshot wrote a side name of `KEYS[1]`: the name is entered in the indexes (and, when
 * its value expired meanwhile, due at once). ARGV[1] = type-order.
 */
export const NOTE_SIDE_INLINE = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZADD', '${SIDE_EXPIRY_KEY}', 0, KEYS[1])
end
MT.note(KEYS[1], ARGV[1])
return 1
`.trim();
export const NOTE_SIDE_SCRIPT = `${MULTI_TYPE_LUA}
${NOTE_SIDE_INLINE}`;

/**
 * The names of SIDE_EXPIRY_KEY whose time has come (at most ARGV[2]): the next type takes each
 * name whose value Redis expired, and a name still expiring with side names is entered again.
 * ARGV[1] = type-order. Returns how many names were looked at.
 */
export const SETTLE_EXPIRED_SCRIPT = `${MULTI_TYPE_LUA}
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', '${SIDE_EXPIRY_KEY}', '-inf', ms, 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(due) do
  redis.call('ZREM', '${SIDE_EXPIRY_KEY}', k)
  MT.settle(k, ARGV[1])
end
return #due
`.trim();

/**
 * The scripts the sink can run inside a batch, in a fixed order (their index names them there):
 * the script, and the body inlined for it when it is not the script itself (the multi-type ones
 * call the batch's one `MT` library instead of defining their own).
 */
export const INLINE_SCRIPTS: ReadonlyArray<readonly [string, string]> = [
  [SET_IF_VALUE_SCRIPT, SET_IF_VALUE_SCRIPT],
  [DELETE_IF_VALUE_SCRIPT, DELETE_IF_VALUE_SCRIPT],
  [DELETE_MATCHING_SCRIPT, DELETE_MATCHING_SCRIPT],
  [SET_WITH_EXPIRY_SCRIPT, SET_WITH_EXPIRY_SCRIPT],
  [GUARDED_WRITE_SCRIPT, GUARDED_WRITE_SCRIPT],
  [TYPED_WRITE_SCRIPT, TYPED_WRITE_INLINE],
  [NOTE_SIDE_SCRIPT, NOTE_SIDE_INLINE],
  [STREAM_SHRINK_SCRIPT, STREAM_SHRINK_SCRIPT],
  [SET_KEEP_TTL_SCRIPT, SET_KEEP_TTL_SCRIPT],
  [LIST_ROTATE_SCRIPT, LIST_ROTATE_SCRIPT],
  [UNSTAGE_SCRIPT, UNSTAGE_SCRIPT],
];

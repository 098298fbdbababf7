/**
 * Lua scripts that give Redis the Pika-only semantics of a few binlog forms (replication.md §5.4).
 * Each runs atomically, so a script stands for exactly one Pika command.
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

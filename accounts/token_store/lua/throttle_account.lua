-- Failed logins on one account: per (account, client) back-off, the account's window and its
-- consecutive-failure cap. Both keys share the hash tag {t:acct:<account hash>}.
-- KEYS[1] the account's state, a hash: n = failures in the window that began at w (ms),
--   a = 1 once this window's lock was reported, c = consecutive failures since the last
--   success, and p:<client hash> = '<failures>:<last failure ms>' for each client
-- KEYS[2] the pair's known marker (value: its last success ms): set by a success
-- ARGV[1] 'check' | 'fail' | 'ok', ARGV[2] now ms, ARGV[3] client hash,
-- ARGV[4] free failures per pair, ARGV[5] back-off base ms (0: no back-off), ARGV[6] back-off
-- cap ms, ARGV[7] account threshold (0: none), ARGV[8] account window ms, ARGV[9] hard cap
-- (0: none), ARGV[10] ms the state and the known marker are kept
-- Returns: check: the ms to wait (0: go ahead); fail: {locked, capped} (1 when this failure
-- reached the window's threshold first, or the hard cap); ok: 0.
local state, known = KEYS[1], KEYS[2]
local mode, now, client = ARGV[1], tonumber(ARGV[2]), 'p:' .. ARGV[3]
local free, base, cap = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local threshold, window = tonumber(ARGV[7]), tonumber(ARGV[8])
local hard_cap, memory = tonumber(ARGV[9]), tonumber(ARGV[10])

if mode == 'ok' then
  if redis.call('EXISTS', state) == 1 then
    redis.call('HDEL', state, client)
    redis.call('HSET', state, 'c', 0)
  end
  redis.call('SET', known, now, 'PX', memory)
  return 0
end

local n, w, c, pair = unpack(redis.call('HMGET', state, 'n', 'w', 'c', client))
n, w, c = tonumber(n or '0'), tonumber(w or '0'), tonumber(c or '0')
local k, last = 0, 0
if pair then
  local sep = string.find(pair, ':', 1, true)
  k, last = tonumber(string.sub(pair, 1, sep - 1)), tonumber(string.sub(pair, sep + 1))
end
local fresh_window = now - w >= window or now < w
if fresh_window then n = 0 end

if mode == 'fail' then
  if fresh_window then
    w = now
    redis.call('HDEL', state, 'a')
  end
  n, c, k = n + 1, c + 1, k + 1
  redis.call('HSET', state, 'n', n, 'w', w, 'c', c, client, k .. ':' .. now)
  redis.call('PEXPIRE', state, memory)
  local locked, capped = 0, 0
  if threshold > 0 and n >= threshold and redis.call('HSETNX', state, 'a', 1) == 1 then
    locked = 1
  end
  if hard_cap > 0 and c == hard_cap then capped = 1 end
  return {locked, capped}
end

-- check: a known pair answers only for its own failures; an unknown one is refused past the
-- hard cap, and gets no free failures while the account is over its threshold.
local is_known = redis.call('EXISTS', known) == 1
if not is_known and hard_cap > 0 and c >= hard_cap then return math.max(cap, 1) end
local allowed = free
if not is_known and threshold > 0 and n >= threshold then allowed = 0 end
local first = math.max(allowed, 1)
if base <= 0 or k < first then return 0 end
local delay = math.min(cap, base * 2 ^ math.min(k - first, 40))
return math.max(math.floor(last + delay - now), 0)

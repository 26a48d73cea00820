-- Refresh: the presented rotation counter must be the session's current one, and is replaced
-- in the same step; of any number of concurrent refreshes exactly one rotates. The immediate
-- parent within the grace window gets the current counter back (the same successor token);
-- any other replay ends the session.
-- KEYS[1] the session hash, KEYS[2] the user's set of session ids, KEYS[3] the user's
-- generation floor
-- ARGV[1] uid, ARGV[2] sid, ARGV[3] presented counter, ARGV[4] now ms, ARGV[5] refresh
-- lifetime ms, ARGV[6] grace ms (0: off), ARGV[7] the user's generation, ARGV[8] user agent,
-- ARGV[9] ip
-- Returns {'rotated' | 'grace', counter, idle deadline} or {'reused'} or {'missing'}.
local s = redis.call('HMGET', KEYS[1], 'uid', 'exp', 'abs_exp', 'gen', 'ctr', 'prev_until')
local now, presented = tonumber(ARGV[4]), tonumber(ARGV[3])
local function finish(outcome)
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  return {outcome}
end
if not (live(s, ARGV[1], now, ARGV[7]) and above(s, redis.call('GET', KEYS[3]))) then
  return finish('missing')
end
local ctr = tonumber(s[5])
if presented == ctr then
  local exp = math.min(now + tonumber(ARGV[5]), tonumber(s[3]))
  redis.call('HSET', KEYS[1], 'ctr', ctr + 1, 'exp', exp, 'prev_until', now + tonumber(ARGV[6]),
    'last_used', now, 'ua', ARGV[8], 'ip', ARGV[9])
  redis.call('PEXPIRE', KEYS[1], exp - now)
  return {'rotated', ctr + 1, exp}
end
if tonumber(ARGV[6]) > 0 and presented == ctr - 1 and now < tonumber(s[6]) then
  return {'grace', ctr, tonumber(s[2])}
end
return finish('reused')

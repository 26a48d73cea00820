-- Open a session.
-- KEYS[1] the session hash, KEYS[2] the user's set of session ids, KEYS[3] the user's
-- generation floor (one hash slot: {u:<uid>})
-- ARGV[1] uid, ARGV[2] sid, ARGV[3] now ms, ARGV[4] idle deadline ms, ARGV[5] absolute
-- deadline ms, ARGV[6] the user's generation, ARGV[7] user agent, ARGV[8] ip
-- Returns -1, or the floor when the generation is below it (nothing is created: the caller
-- read a generation that sessions_end_all has moved past, or whose commit failed).
local floor = redis.call('GET', KEYS[3])
if floor and tonumber(ARGV[6]) < tonumber(floor) then return tonumber(floor) end
local now, exp, abs_exp = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'ctr', 0, 'exp', exp, 'abs_exp', abs_exp,
  'gen', ARGV[6], 'created', now, 'last_used', now, 'prev_until', 0, 'ua', ARGV[7],
  'ip', ARGV[8])
-- TTLs only collect garbage; the deadlines above decide.
redis.call('PEXPIRE', KEYS[1], exp - now)
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[2], abs_exp - now)
return -1

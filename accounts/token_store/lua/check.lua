-- The hot-path check: is this session live?
-- KEYS[1] the session hash, KEYS[2] the user's generation floor
-- ARGV[1] uid, ARGV[2] now ms, ARGV[3] the user's generation (PostgreSQL), or '' when the
-- caller read none (forward auth): the floor alone then stands for it
local s = redis.call('HMGET', KEYS[1], 'uid', 'exp', 'abs_exp', 'gen')
local gen = ARGV[3]
if gen == '' then gen = s[4] end
if live(s, ARGV[1], tonumber(ARGV[2]), gen) and above(s, redis.call('GET', KEYS[2])) then
  return 1
end
return 0

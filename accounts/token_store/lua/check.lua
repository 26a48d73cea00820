-- The hot-path check: is this session live?
-- KEYS[1] the session hash
-- ARGV[1] uid, ARGV[2] now ms, ARGV[3] the user's generation
local s = redis.call('HMGET', KEYS[1], 'uid', 'exp', 'abs_exp', 'gen')
if live(s, ARGV[1], tonumber(ARGV[2]), ARGV[3]) then return 1 end
return 0

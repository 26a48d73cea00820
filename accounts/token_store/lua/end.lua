-- End one live session of a user.
-- KEYS[1] the session hash, KEYS[2] the user's set of session ids
-- ARGV[1] uid, ARGV[2] sid, ARGV[3] now ms, ARGV[4] the user's generation
-- Returns 1 when a live session of this user ended, else 0.
local s = redis.call('HMGET', KEYS[1], 'uid', 'exp', 'abs_exp', 'gen')
if s[1] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
if live(s, ARGV[1], tonumber(ARGV[3]), ARGV[4]) then return 1 end
return 0

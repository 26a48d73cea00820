-- Mark the tokens of a service account live: they are while the key holds the `sid` they carry.
-- KEYS[1] auth:{c:<client id>}
-- ARGV[1] the client's current sid, ARGV[2] ms the key must live at least (the TTL only
-- collects garbage: it outlives every token issued under this sid, and only grows)
local ttl = tonumber(ARGV[2])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
elseif redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1

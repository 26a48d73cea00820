-- Raise a user's generation floor: sessions opened in an older generation are dead from now on,
-- whatever PostgreSQL says. Never lowered; kept as long as a session can live.
-- KEYS[1] the user's generation floor
-- ARGV[1] the new generation, ARGV[2] ms to keep it (SESSION_MAX_LIFETIME)
-- Returns the floor.
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local gen = tonumber(ARGV[1])
if gen > current then
  redis.call('SET', KEYS[1], gen, 'PX', ARGV[2])
  return gen
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return current

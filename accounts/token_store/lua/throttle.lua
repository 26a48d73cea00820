-- A fixed-window counter.
-- KEYS[1] the counter
-- ARGV[1] limit, ARGV[2] window ms, ARGV[3] 'hit' (count this attempt, refuse past the limit)
-- or 'peek' (refuse once the limit has been reached, count nothing)
-- Returns the ms to wait when refused, else 0.
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local n
if ARGV[3] == 'hit' then
  n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('PEXPIRE', KEYS[1], window) end
else
  n = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
end
if n > limit then return math.max(redis.call('PTTL', KEYS[1]), 1) end
return 0

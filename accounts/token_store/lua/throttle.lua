-- A fixed-window counter on the application's clock (the key's TTL only collects garbage).
-- KEYS[1] the counter: a hash {w = window start ms, n = attempts in that window}
-- ARGV[1] limit, ARGV[2] window ms, ARGV[3] 'hit' (count this attempt, refuse past the limit)
-- or 'peek' (refuse once the limit has been reached, count nothing), ARGV[4] now ms
-- Returns the ms to wait when refused, else 0.
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local w, n = unpack(redis.call('HMGET', KEYS[1], 'w', 'n'))
w, n = tonumber(w or '0'), tonumber(n or '0')
if now - w >= window or now < w then w, n = now, 0 end
n = n + 1
if ARGV[3] == 'hit' then
  redis.call('HSET', KEYS[1], 'w', w, 'n', n)
  redis.call('PEXPIRE', KEYS[1], window)
end
if n > limit then return math.max(w + window - now, 1) end
return 0

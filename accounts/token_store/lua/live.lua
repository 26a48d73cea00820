-- live(s, uid, now, gen): whether a session's fields {uid, exp, abs_exp, gen} describe a live
-- session of `uid`: it exists, is within its idle (exp) and absolute (abs_exp) deadlines, and
-- was opened in the user's current generation (PostgreSQL's users.session_generation).
-- above(s, floor): the session's generation is not below the user's generation floor in Redis
-- (the GET of auth:{u:<uid>}:gen; false when absent), which sessions_end_all raises before its
-- transaction commits.
-- Prepended to check.lua, rotate.lua and end.lua by the loader.
local function live(s, uid, now, gen)
  return s[1] == uid and now < tonumber(s[2]) and now < tonumber(s[3]) and s[4] == gen
end
local function above(s, floor)
  return not floor or tonumber(s[4]) >= tonumber(floor)
end

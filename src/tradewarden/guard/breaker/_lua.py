"""The Lua scripts that change a breaker's shared hash atomically (run with EVALSHA).

Every script reads the time from Redis (``TIME``), so all processes share one clock for
``lastFailureTime``, ``openedAt`` and the time left OPEN, and returns the same snapshot:
``{state, failureCount, lastFailureTime, openedAt, version, remainingMs, exists}``
(times in epoch milliseconds, -1 when absent; ``remainingMs`` -1 unless OPEN).
A script that changes the state bumps ``version`` and PUBLISHes the new snapshot as JSON
on the channel, with the writer's ``origin``.
"""

from __future__ import annotations

__all__ = ["FAILURE", "READ", "RECOVERED", "TRANSITION"]

_PRELUDE = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function snapshot(timeout_ms)
  local h = redis.call('HMGET', key, 'state', 'failureCount', 'lastFailureTime', 'openedAt',
                       'version')
  local state = string.upper(h[1] or 'CLOSED')
  local remaining = -1
  if state == 'OPEN' then
    local opened = tonumber(h[4]) or tonumber(h[3]) or now
    remaining = math.max(0, opened + timeout_ms - now)
  end
  return {state, tonumber(h[2]) or 0, tonumber(h[3]) or -1, tonumber(h[4]) or -1,
          tonumber(h[5]) or 0, remaining, redis.call('EXISTS', key)}
end

local function announce(channel, name, origin, timeout_ms)
  redis.call('HINCRBY', key, 'version', 1)
  local s = snapshot(timeout_ms)
  redis.call('PUBLISH', channel, cjson.encode({name = name, state = s[1],
    failureCount = s[2], lastFailureTime = s[3], openedAt = s[4], version = s[5],
    remainingMs = s[6], origin = origin}))
  return s
end
"""

# ARGV: timeout_ms. An OPEN written by hand without openedAt gets one, so that every
# process counts the timeout from the same moment.
READ = (
    _PRELUDE
    + """
local state = redis.call('HGET', key, 'state')
if state and string.upper(state) == 'OPEN' and not redis.call('HGET', key, 'openedAt') then
  redis.call('HSET', key, 'openedAt', now)
end
return snapshot(tonumber(ARGV[1]))
"""
)

# ARGV: n, threshold, period_ms, timeout_ms, channel, name, origin.
# Adds n failures while CLOSED (restarting the count after a gap longer than period_ms)
# and opens the breaker when the shared count reaches the threshold.
FAILURE = (
    _PRELUDE
    + """
local n, threshold, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local timeout_ms = tonumber(ARGV[4])
local state = string.upper(redis.call('HGET', key, 'state') or 'CLOSED')
if state ~= 'CLOSED' then
  return snapshot(timeout_ms)
end
local count = tonumber(redis.call('HGET', key, 'failureCount')) or 0
local last = tonumber(redis.call('HGET', key, 'lastFailureTime'))
if last == nil or now - last > period then
  count = 0
end
count = count + n
redis.call('HSET', key, 'state', 'CLOSED', 'failureCount', count, 'lastFailureTime', now)
if count >= threshold then
  redis.call('HSET', key, 'state', 'OPEN', 'openedAt', now)
  return announce(ARGV[5], ARGV[6], ARGV[7], timeout_ms)
end
return snapshot(timeout_ms)
"""
)

# ARGV: timeout_ms. A success after failures resets the shared count (no announcement).
RECOVERED = (
    _PRELUDE
    + """
local state = string.upper(redis.call('HGET', key, 'state') or 'CLOSED')
if state == 'CLOSED' and redis.call('EXISTS', key) == 1 then
  redis.call('HSET', key, 'failureCount', 0)
end
return snapshot(tonumber(ARGV[1]))
"""
)

# ARGV: expected, new_state, timeout_ms, remaining_ms, channel, name, origin.
# expected: a state (compare-and-set), '*' (an operator: always) or '!op' (a re-sync: unless
# an operator's FORCED_OPEN or DISABLED is there).
TRANSITION = (
    _PRELUDE
    + """
local expected, new_state = ARGV[1], ARGV[2]
local timeout_ms, remaining_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local current = string.upper(redis.call('HGET', key, 'state') or 'CLOSED')
if expected == '!op' then
  if current == 'FORCED_OPEN' or current == 'DISABLED' then
    return snapshot(timeout_ms)
  end
elseif expected ~= '*' and expected ~= current then
  return snapshot(timeout_ms)
end
redis.call('HSET', key, 'state', new_state)
if new_state == 'CLOSED' then
  redis.call('HSET', key, 'failureCount', 0)
  redis.call('HDEL', key, 'lastFailureTime', 'openedAt')
elseif new_state == 'OPEN' then
  if remaining_ms < 0 then remaining_ms = timeout_ms end
  redis.call('HSET', key, 'openedAt', now - (timeout_ms - remaining_ms))
elseif new_state ~= 'HALF_OPEN' then
  redis.call('HDEL', key, 'openedAt')
end
return announce(ARGV[5], ARGV[6], ARGV[7], timeout_ms)
"""
)

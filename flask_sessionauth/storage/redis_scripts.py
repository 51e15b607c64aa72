"""The Lua scripts of :mod:`.redis`: each reads and writes one entry atomically,
and none ever replaces a tombstone (``"-"``)."""

from __future__ import annotations

# Replace an entry's value only if it is live (not missing, not a tombstone).
REFRESH = """
local current = redis.call('GET', KEYS[1])
if current and current ~= '-' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


# Remove a live entry (not a tombstone: that would let a stale copy back in).
UNCACHE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= '-' then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# Turn a live copy into a tombstone; leave a missing key missing.
RETIRE = """
local current = redis.call('GET', KEYS[1])
if current and current ~= '-' then
  redis.call('SET', KEYS[1], '-', 'EX', ARGV[1])
  return 1
end
return 0
"""

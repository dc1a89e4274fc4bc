package state

import "github.com/redis/go-redis/v9"

// The Lua scripts of the Redis store. Each runs atomically on the server.
// They return -1 (key exists) or -2 (ETag mismatch) for a failed condition.

// redisSet: KEYS data, idx, seq; ARGV value, ifMatch, ifNoneMatch, ttlMillis, key.
var redisSet = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'e')
if ARGV[3] == '1' and cur then return -1 end
if ARGV[2] ~= '' and cur ~= ARGV[2] then return -2 end
local v = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', v)
if tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('PERSIST', KEYS[1])
end
redis.call('ZADD', KEYS[2], 0, ARGV[5])
return v
`)

// redisDelete: KEYS data, idx; ARGV ifMatch, key.
var redisDelete = redis.NewScript(`
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'e') ~= ARGV[1] then return -2 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 0
`)

// redisTransact: KEYS idx, seq, data1..dataN; ARGV six per op: kind, key,
// value, ifMatch, ifNoneMatch, ttlMillis. All checks run before any write.
var redisTransact = redis.NewScript(`
local n = #KEYS - 2
for i = 1, n do
  local a = (i - 1) * 6
  local cur = redis.call('HGET', KEYS[i + 2], 'e')
  if ARGV[a + 1] == 'set' and ARGV[a + 5] == '1' and cur then return {-1, i - 1} end
  if ARGV[a + 4] ~= '' and cur ~= ARGV[a + 4] then return {-2, i - 1} end
end
for i = 1, n do
  local a = (i - 1) * 6
  local k = KEYS[i + 2]
  if ARGV[a + 1] == 'set' then
    local v = redis.call('INCR', KEYS[2])
    redis.call('HSET', k, 'v', ARGV[a + 3], 'e', v)
    if tonumber(ARGV[a + 6]) > 0 then
      redis.call('PEXPIRE', k, ARGV[a + 6])
    else
      redis.call('PERSIST', k)
    end
    redis.call('ZADD', KEYS[1], 0, ARGV[a + 2])
  else
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], ARGV[a + 2])
  end
end
return {0}
`)

// redisPrune: KEYS idx, data; ARGV key. Drops an index entry whose data key
// is gone (expired), atomically with the check.
var redisPrune = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`)

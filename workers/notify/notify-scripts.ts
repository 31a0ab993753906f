/**
 * Lua run atomically in Redis, so that adding an actor and sealing an aggregate never interleave.
 * Every script takes the key prefix as ARGV[1] (no KEYS: an aggregate's generations are found by
 * walking them; a Redis Cluster deployment would put the prefix in a hash tag).
 *
 * Keys, below the prefix:
 *   agg:<job>     sorted set of actor ids, score = when they acted (first actors = lowest scores)
 *   names:<base>  hash actor id → handle of the actors a notification may name (the first ones)
 *   undone:<base> sorted set of actors who took their act back (unlike, unfollow), score = when
 *   snap:<job>    the frozen view of a job, written once when it first runs: its seal
 *   rate:<recipient>:<period>  notifications sent to a recipient in a rate-limit period
 *   held:<recipient>:<period>  jobs over the limit, merged into the digest of that period
 *   creator:<koo>  who created a koo whose create this worker saw lately (NOTIFY_PARK_TTL_MS)
 *   parked:<koo>   list of events (JSON) that came before their koo's create, released by it
 *
 * An aggregate `<base>` has generations `<base>.0`, `<base>.1`, …: once a generation is sealed,
 * a late actor of the same window goes to the next one (whose job is due at once), and an actor
 * already in any generation is not added again, so replays add nothing. An act taken back is
 * remembered with its time, so that a replay of the act, older than that, is not added either.
 */

/**
 * ARGV: prefix, base, actor, score, ttl s. Returns {generation holding the actor, its rank there}
 * (the caller names the first actors), or {-1, -1} when the act was taken back later.
 */
export const addActorScript = `
local p, base, actor, score, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local undone = redis.call('ZSCORE', p .. 'undone:' .. base, actor)
if undone and tonumber(undone) >= tonumber(score) then return { -1, -1 } end
local gen = 0
while true do
  local job = base .. '.' .. gen
  local agg = p .. 'agg:' .. job
  if redis.call('ZSCORE', agg, actor) then return { gen, redis.call('ZRANK', agg, actor) } end
  if redis.call('EXISTS', p .. 'snap:' .. job) == 0 then
    redis.call('ZADD', agg, score, actor)
    redis.call('EXPIRE', agg, ttl)
    return { gen, redis.call('ZRANK', agg, actor) }
  end
  gen = gen + 1
end
`;

/**
 * ARGV: prefix, koo, event (JSON), ttl ms. The koo's creator when its create was seen; otherwise
 * parks the event until it is (nil). One script with recordKooScript on the same keys, so an event
 * is either parked before the create is recorded (and released by it) or finds the creator.
 */
export const resolveOrParkScript = `
local p, koo, event, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local creator = redis.call('GET', p .. 'creator:' .. koo)
if creator then return creator end
redis.call('RPUSH', p .. 'parked:' .. koo, event)
redis.call('PEXPIRE', p .. 'parked:' .. koo, ttl)
return false
`;

/** ARGV: prefix, koo, creator, ttl ms. Records the koo's creator; returns the events parked for it (kept until released). */
export const recordKooScript = `
local p, koo, creator, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SET', p .. 'creator:' .. koo, creator, 'PX', ttl)
return redis.call('LRANGE', p .. 'parked:' .. koo, 0, -1)
`;

/** ARGV: prefix, base, actor, score, ttl s. Takes the actor out of every generation not yet sealed. */
export const removeActorScript = `
local p, base, actor, score, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('ZADD', p .. 'undone:' .. base, 'GT', score, actor)
redis.call('EXPIRE', p .. 'undone:' .. base, ttl)
local gen = 0
while true do
  local job = base .. '.' .. gen
  local sealed = redis.call('EXISTS', p .. 'snap:' .. job) == 1
  if not sealed and redis.call('EXISTS', p .. 'agg:' .. job) == 0 then return 0 end
  if not sealed then redis.call('ZREM', p .. 'agg:' .. job, actor) end
  gen = gen + 1
end
`;

/**
 * ARGV: prefix, job, base, recipient, kind, koo ('' for none), named actors, per-recipient limit,
 * period now, ttl s. Seals an aggregate job on its first run and returns the frozen view (JSON)
 * on every run: {decision: send|held|cancelled, kind, kooId, count, actors: [{id, handle}], digestPeriod}. A job over the
 * recipient's limit joins the held set of the first digest not yet sealed.
 */
export const sealAggregateScript = `
local p, job, base, recipient, kind, koo = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local named, limit, period, ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local snap = p .. 'snap:' .. job
local have = redis.call('GET', snap)
if have then return have end
local agg = p .. 'agg:' .. job
local count = redis.call('ZCARD', agg)
local actors = {}
for i, id in ipairs(redis.call('ZRANGE', agg, 0, named - 1)) do
  actors[i] = { id = id, handle = redis.call('HGET', p .. 'names:' .. base, id) or nil }
end
local view = { decision = 'cancelled', kind = kind, kooId = koo, count = count, actors = actors }
if count > 0 then
  local rate = p .. 'rate:' .. recipient .. ':' .. period
  local sent = redis.call('INCR', rate)
  redis.call('EXPIRE', rate, ttl)
  if sent <= limit then
    view.decision = 'send'
  else
    local digest = period + 1
    while redis.call('EXISTS', p .. 'snap:digest:' .. recipient .. ':' .. digest) == 1 do digest = digest + 1 end
    local held = p .. 'held:' .. recipient .. ':' .. digest
    redis.call('SADD', held, job)
    redis.call('EXPIRE', held, ttl)
    view.decision = 'held'
    view.digestPeriod = digest
  end
end
local out = cjson.encode(view)
redis.call('SET', snap, out, 'EX', ttl)
return out
`;

/**
 * ARGV: prefix, recipient, period, ttl s. Seals a digest on its first run and returns the frozen
 * views of the jobs it merges (JSON {jobs: {job: view}}) on every run.
 */
export const sealDigestScript = `
local p, recipient, period, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local snap = p .. 'snap:digest:' .. recipient .. ':' .. period
local have = redis.call('GET', snap)
if have then return have end
local jobs = {}
for _, job in ipairs(redis.call('SMEMBERS', p .. 'held:' .. recipient .. ':' .. period)) do
  jobs[job] = cjson.decode(redis.call('GET', p .. 'snap:' .. job))
end
local out = cjson.encode({ jobs = jobs })
redis.call('SET', snap, out, 'EX', ttl)
return out
`;

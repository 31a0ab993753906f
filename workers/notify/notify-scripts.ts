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
 *   thru:<job>    hash source partition (topic:partition) → highest offset of an event added to the job
 *   creator:<koo>  who created a koo whose create this worker saw lately (NOTIFY_PARK_TTL_MS)
 *   parked:<koo>   list of events (JSON) that came before their koo's create, released by it
 *   epoch          the notification state's epoch (redis-loss.ts): no script writes without it,
 *                  so nothing lands in a Redis that came back empty before its state is restored
 *
 * An aggregate `<base>` has generations `<base>.0`, `<base>.1`, …: once a generation is sealed,
 * a late actor of the same window goes to the next one (whose job is due at once), and an actor
 * already in any generation is not added again, so replays add nothing. An act taken back is
 * remembered with its time, so that a replay of the act, older than that, is not added either.
 * A seal records, per source partition, the highest offset of the events in it (`through`): once
 * Redis lost the actor sets and the seals came back from the ledger, an event at or below that
 * offset is known to be in the sealed generation (a partition is applied in order), so a replay
 * puts no actor in two notifications.
 */

/** Fails a script (the caller's batch or job is redone) while Redis holds no epoch. */
const requireEpoch = `
if redis.call('EXISTS', ARGV[1] .. 'epoch') == 0 then return redis.error_reply('STATE_LOST notification state has no epoch') end
`;

/**
 * ARGV: prefix, base, actor, score, ttl s, source (topic:partition), offset. Returns {generation
 * holding the actor, its rank there} (the caller names the first actors), or {-1, -1} when the
 * act was taken back later.
 */
export const addActorScript = `${requireEpoch}
local p, base, actor, score, ttl, source, offset = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local undone = redis.call('ZSCORE', p .. 'undone:' .. base, actor)
if undone and tonumber(undone) >= tonumber(score) then return { -1, -1 } end
local gen = 0
while true do
  local job = base .. '.' .. gen
  local agg = p .. 'agg:' .. job
  if redis.call('ZSCORE', agg, actor) then return { gen, redis.call('ZRANK', agg, actor) } end
  local snap = redis.call('GET', p .. 'snap:' .. job)
  local covered = false
  if snap then
    local through = cjson.decode(snap).through
    covered = type(through) == 'table' and through[source] ~= nil and tonumber(through[source]) >= offset
  end
  if not snap or covered then
    redis.call('ZADD', agg, score, actor)
    redis.call('EXPIRE', agg, ttl)
    if not snap then
      local thru = p .. 'thru:' .. job
      local at = redis.call('HGET', thru, source)
      if not at or tonumber(at) < offset then redis.call('HSET', thru, source, offset) end
      redis.call('EXPIRE', thru, ttl)
    end
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
export const resolveOrParkScript = `${requireEpoch}
local p, koo, event, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local creator = redis.call('GET', p .. 'creator:' .. koo)
if creator then return creator end
redis.call('RPUSH', p .. 'parked:' .. koo, event)
redis.call('PEXPIRE', p .. 'parked:' .. koo, ttl)
return false
`;

/** ARGV: prefix, koo, creator, ttl ms. Records the koo's creator; returns the events parked for it (kept until released). */
export const recordKooScript = `${requireEpoch}
local p, koo, creator, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SET', p .. 'creator:' .. koo, creator, 'PX', ttl)
return redis.call('LRANGE', p .. 'parked:' .. koo, 0, -1)
`;

/** ARGV: prefix, base, actor, score, ttl s. Takes the actor out of every generation not yet sealed. */
export const removeActorScript = `${requireEpoch}
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
 * on every run: {decision: send|held|cancelled, kind, kooId, count, actors: [{id, handle}],
 * through, period, digestPeriod, done (restored from the ledger: finished before Redis lost it)}.
 * A job over the recipient's limit joins the held set of the first digest not yet sealed.
 */
export const sealAggregateScript = `${requireEpoch}
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
local through = {}
local pairs_ = redis.call('HGETALL', p .. 'thru:' .. job)
for i = 1, #pairs_, 2 do through[pairs_[i]] = pairs_[i + 1] end
local view = { decision = 'cancelled', kind = kind, kooId = koo, count = count, actors = actors, through = through, period = period }
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
export const sealDigestScript = `${requireEpoch}
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

/**
 * ARGV: prefix, source (topic:partition). Returns {epoch (JSON) or false, the offset after the
 * last chunk of the source applied in that epoch or false}.
 */
export const positionScript = `
local p, source = ARGV[1], ARGV[2]
local epoch = redis.call('GET', p .. 'epoch')
if not epoch then return { false, false } end
return { epoch, redis.call('GET', p .. 'next:' .. cjson.decode(epoch).id .. ':' .. source) }
`;

/** ARGV: prefix, epoch id, source, next offset. Records that the source was applied up to there in the epoch (never lowers it). */
export const markAppliedScript = `
local p, epoch, source, nextOffset = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. 'next:' .. epoch .. ':' .. source
local at = redis.call('GET', key)
if not at or tonumber(at) < tonumber(nextOffset) then redis.call('SET', key, nextOffset) end
return 0
`;

/** KEYS: the lock; ARGV: its owner. Deletes the lock only if the owner still holds it. */
export const unlockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

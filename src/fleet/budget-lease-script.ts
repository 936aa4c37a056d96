/**
 * The one Redis script of the request budget: a lease on a tenant's window, atomic (a script runs alone:
 * https://redis.io/docs/latest/develop/interact/programmability/eval-intro/), so leases of any number of
 * replicas never add up to more than the budget. It mirrors `grant` in src/budget/window.ts line for line, and the
 * window comes from Redis's own clock (TIME), so replicas whose clocks disagree still agree on the window.
 *
 * KEYS[1]  the tenant's budget hash: w = window index, n = requests leased, c:<caller> = a caller's leases
 * ARGV     windowMs, limit, caller field ('' = no caller share), callerLimit, want (0 with need 0: only charge the
 *          debt), divisor, debt, need
 * returns  {granted, limitedBy ('' | 'tenant' | 'caller'), ms left in the window}
 */
export const LEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windowMs = tonumber(ARGV[1])
local w = math.floor(now / windowMs)
local ends = (w + 1) * windowMs
local key = KEYS[1]
local ws = string.format('%d', w)
if redis.call('HGET', key, 'w') ~= ws then
  redis.call('DEL', key)
  redis.call('HSET', key, 'w', ws)
end
local field = ARGV[3]
local debt = tonumber(ARGV[7])
local used = redis.call('HINCRBY', key, 'n', debt)
local callerUsed = 0
if field ~= '' then callerUsed = redis.call('HINCRBY', key, field, debt) end
local granted = 0
local limitedBy = ''
local left = tonumber(ARGV[2]) - used
local want = math.floor(tonumber(ARGV[5]))
local need = math.floor(tonumber(ARGV[8]))
if want <= 0 and need <= 0 then
  -- want 0: a report of debt only
elseif left <= 0 then
  limitedBy = 'tenant'
elseif field ~= '' and tonumber(ARGV[4]) - callerUsed <= 0 then
  limitedBy = 'caller'
else
  if field ~= '' and tonumber(ARGV[4]) - callerUsed < left then left = tonumber(ARGV[4]) - callerUsed end
  local ahead = math.min(want, math.max(1, math.ceil(left / tonumber(ARGV[6]))))
  granted = math.min(left, math.max(1, need, ahead))
  redis.call('HINCRBY', key, 'n', granted)
  if field ~= '' then redis.call('HINCRBY', key, field, granted) end
end
redis.call('PEXPIRE', key, ends - now + 1000)
return {granted, limitedBy, ends - now}
`;

// The request budget's pure arithmetic (windows, leases, shares, Retry-After), the local store, and the
// RequestBudget that spends leases: what is granted, what is refused and with which pause, and that no
// interleaving of leases over any number of replicas grants more than the budget in a window.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isBudgetError, SPENT, type BudgetVerdict } from "../../src/budget/budget-errors.js";
import type { BudgetStore, LeaseAnswer, LeaseRequest } from "../../src/budget/budget-store.js";
import { LocalBudgetStore } from "../../src/budget/local-budget-store.js";
import { RequestBudget, type BudgetObserver, type BudgetSettings } from "../../src/budget/request-budget.js";
import { callerLimitOf, grant, retryAfterSeconds, windowOf } from "../../src/budget/window.js";

const MINUTE = 60_000;
/** A time 10 s into a minute. */
const T0 = Date.UTC(2026, 11, 2, 16, 30, 10);

const SETTINGS: BudgetSettings = {
  requestsPerWindow: 20,
  callerShare: 1,
  windowMs: MINUTE,
  maxChunk: 5,
  divisor: 4,
  fallbackReplicas: 2,
  storeTimeoutMs: 50,
  retryStoreAfterMs: 1000,
  localShares: 1,
};

class Clock {
  constructor(public ms = T0) {}
  readonly now = (): number => this.ms;
}

function recorder(): BudgetObserver & { results: string[]; leases: string[]; fallbacks: boolean[] } {
  const results: string[] = [];
  const leases: string[] = [];
  const fallbacks: boolean[] = [];
  return { results, leases, fallbacks, spent: (_t, r) => results.push(r), lease: (o) => leases.push(o), fallback: (a) => fallbacks.push(a) };
}

const acme = { id: "acme" };
const globex = { id: "globex" };

function syncTake(b: RequestBudget, t: { id: string; budget?: { requestsPerWindow?: number; callerShare?: number } }, caller = "c"): BudgetVerdict {
  const v = b.take(t, caller);
  if (v instanceof Promise) throw new Error("expected a synchronous answer");
  return v;
}

describe("window arithmetic", () => {
  it("windows are aligned to the epoch: a 60 s window is a whole minute", () => {
    const w = windowOf(T0, MINUTE);
    expect(w.endsAtMs).toBe(Date.UTC(2026, 11, 2, 16, 31, 0));
    expect(windowOf(w.endsAtMs, MINUTE).index).toBe(w.index + 1);
    expect(windowOf(w.endsAtMs - 1, MINUTE).index).toBe(w.index);
  });

  it("Retry-After is the whole seconds left in the window, at least 1", () => {
    expect(retryAfterSeconds(T0, windowOf(T0, MINUTE).endsAtMs)).toBe(50);
    expect(retryAfterSeconds(T0 + 49_001, windowOf(T0, MINUTE).endsAtMs)).toBe(1);
    expect(retryAfterSeconds(T0 + 50_000, windowOf(T0, MINUTE).endsAtMs)).toBe(1);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 3600 }), (now, s) => {
        const ra = retryAfterSeconds(now, windowOf(now, s * 1000).endsAtMs);
        return ra >= 1 && ra <= s && now + ra * 1000 >= windowOf(now, s * 1000).endsAtMs;
      }),
    );
  });

  it("a caller share is a fraction of the budget, at least one request; 1 means no caller limit", () => {
    expect(callerLimitOf(300, 1)).toBeUndefined();
    expect(callerLimitOf(300, 0.5)).toBe(150);
    expect(callerLimitOf(300, 0.001)).toBe(1);
    expect(callerLimitOf(7, 0.5)).toBe(3);
  });

  it("a lease takes at most the chunk, 1/divisor of what is left, and never more than is left", () => {
    expect(grant({ limit: 300, used: 0, want: 20, need: 1, divisor: 8 })).toEqual({ granted: 20 });
    expect(grant({ limit: 300, used: 280, want: 20, need: 1, divisor: 8 })).toEqual({ granted: 3 });
    expect(grant({ limit: 300, used: 299, want: 20, need: 1, divisor: 8 })).toEqual({ granted: 1 });
    expect(grant({ limit: 300, used: 300, want: 20, need: 1, divisor: 8 })).toEqual({ granted: 0, limitedBy: "tenant" });
    expect(grant({ limit: 300, used: 310, want: 20, need: 1, divisor: 8 })).toEqual({ granted: 0, limitedBy: "tenant" });
    expect(grant({ limit: 300, used: 100, callerLimit: 150, callerUsed: 148, want: 20, need: 1, divisor: 1 })).toEqual({ granted: 2 });
    expect(grant({ limit: 300, used: 100, callerLimit: 150, callerUsed: 150, want: 20, need: 1, divisor: 1 })).toEqual({ granted: 0, limitedBy: "caller" });
    // Checks already waiting get what they need at once (it strands nothing), still never more than is left.
    expect(grant({ limit: 300, used: 280, want: 20, need: 12, divisor: 8 })).toEqual({ granted: 12 });
    expect(grant({ limit: 300, used: 295, want: 20, need: 12, divisor: 8 })).toEqual({ granted: 5 });
    // A report (want 0, need 0) takes nothing.
    expect(grant({ limit: 300, used: 0, want: 0, need: 0, divisor: 8 })).toEqual({ granted: 0 });
  });
});

describe("fleet-wide: however leases interleave, a window never grants more than the budget", () => {
  it("any number of replicas and callers, any order of lease requests and debts (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.record({ caller: fc.integer({ min: 0, max: 3 }), want: fc.integer({ min: 0, max: 60 }), need: fc.integer({ min: 0, max: 80 }), debt: fc.integer({ min: 0, max: 3 }) }), { maxLength: 400 }),
        (limit, share, maxChunk, divisor, asks) => {
          const store = new LocalBudgetStore(() => T0);
          const callerLimit = share === undefined ? undefined : callerLimitOf(limit, share);
          let total = 0;
          let debts = 0;
          const perCaller = new Map<number, number>();
          for (const a of asks) {
            const r = store.lease({
              tenant: "t",
              caller: callerLimit === undefined ? undefined : `c${a.caller}`,
              limit,
              callerLimit,
              windowMs: MINUTE,
              want: Math.min(a.want, maxChunk),
              need: a.need,
              divisor,
              debt: a.debt,
            });
            if (r.granted < 0) return false;
            // Debts are requests let through elsewhere: they count towards the window like grants.
            total += r.granted + a.debt;
            perCaller.set(a.caller, (perCaller.get(a.caller) ?? 0) + r.granted);
            debts += a.debt;
          }
          // Grants never exceed the budget; debts (requests let through without a lease) only leave less to grant.
          if (total - debts > limit) return false;
          if (callerLimit !== undefined) for (const n of perCaller.values()) if (n > callerLimit) return false;
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  it("replicas spending their leases at random never let through more than the budget, and use all of it (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 600 }),
        async (limit, replicas, order) => {
          const clock = new Clock();
          const shared = new LocalBudgetStore(clock.now);
          // A shared store across the network: every lease is asynchronous, as Redis's is.
          const remote: BudgetStore = { scope: "fleet", lease: (r) => Promise.resolve(shared.lease(r)) };
          const fleet = Array.from({ length: replicas }, () => new RequestBudget({ store: remote, settings: { ...SETTINGS, requestsPerWindow: limit }, now: clock.now }));
          const verdicts = await Promise.all(order.map((i) => fleet[i % replicas]!.take(acme, "c")));
          const granted = verdicts.filter((v) => v === SPENT).length;
          // Every request refused is refused for the budget; no more granted than the budget; none stranded when
          // demand exceeds it (spare lease units may stay with a replica, so only the bound is exact).
          return granted <= limit && verdicts.every((v) => v === SPENT || (isBudgetError(v) && v.code === "exhausted"));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("RequestBudget with the local store", () => {
  it("grants the budget, then refuses with the seconds left in the window; the next window starts afresh", () => {
    const clock = new Clock();
    const obs = recorder();
    const b = new RequestBudget({ store: new LocalBudgetStore(clock.now), settings: SETTINGS, now: clock.now, observer: obs });
    for (let i = 0; i < 20; i++) expect(syncTake(b, acme)).toBe(SPENT);
    expect(syncTake(b, acme)).toEqual({ kind: "budget", code: "exhausted", retryAfterSeconds: 50 });
    clock.ms += 20_000;
    expect(syncTake(b, acme)).toEqual({ kind: "budget", code: "exhausted", retryAfterSeconds: 30 });
    // A neighbour tenant has a budget of its own.
    expect(syncTake(b, globex)).toBe(SPENT);
    clock.ms = windowOf(T0, MINUTE).endsAtMs;
    for (let i = 0; i < 20; i++) expect(syncTake(b, acme)).toBe(SPENT);
    expect(isBudgetError(syncTake(b, acme))).toBe(true);
    expect(obs.results.filter((r) => r === "granted")).toHaveLength(41);
    expect(obs.results.filter((r) => r === "budget_exhausted")).toHaveLength(3);
    expect(b.mode).toBe("replica");
  });

  it("a tenant's own budget overrides the default", () => {
    const clock = new Clock();
    const b = new RequestBudget({ store: new LocalBudgetStore(clock.now), settings: SETTINGS, now: clock.now });
    const big = { id: "big", budget: { requestsPerWindow: 50 } };
    let n = 0;
    while (syncTake(b, big) === SPENT) n++;
    expect(n).toBe(50);
  });

  it("caller shares: one noisy caller spends its share, the tenant's other callers still get theirs", () => {
    const clock = new Clock();
    const b = new RequestBudget({ store: new LocalBudgetStore(clock.now), settings: { ...SETTINGS, callerShare: 0.5 }, now: clock.now });
    let noisy = 0;
    while (syncTake(b, acme, "noisy") === SPENT) noisy++;
    expect(noisy).toBe(10);
    expect(syncTake(b, acme, "noisy")).toMatchObject({ code: "caller_share_exhausted", retryAfterSeconds: 50 });
    let quiet = 0;
    while (syncTake(b, acme, "quiet") === SPENT) quiet++;
    expect(quiet).toBe(10);
    // Two shares of one half each: the tenant's budget is spent, and a third caller hears so.
    expect(syncTake(b, acme, "third")).toMatchObject({ code: "exhausted" });
  });

  it("multi-worker mode without a shared store: each worker enforces its share", () => {
    const clock = new Clock();
    const b = new RequestBudget({ store: new LocalBudgetStore(clock.now), settings: { ...SETTINGS, localShares: 4 }, now: clock.now });
    let n = 0;
    while (syncTake(b, acme) === SPENT) n++;
    expect(n).toBe(5);
  });
});

/** A shared store that can be switched off: leases reject (as ioredis does when Redis is down) or hang. */
class FlakyStore implements BudgetStore {
  readonly scope = "fleet" as const;
  readonly inner: LocalBudgetStore;
  state: "up" | "down" | "hang" = "up";
  calls = 0;
  readonly debts: number[] = [];
  constructor(now: () => number) {
    this.inner = new LocalBudgetStore(now);
  }
  lease(r: LeaseRequest): Promise<LeaseAnswer> {
    this.calls++;
    if (this.state === "down") return Promise.reject(new Error("ECONNREFUSED"));
    if (this.state === "hang") return new Promise(() => undefined);
    if (r.debt > 0) this.debts.push(r.debt);
    return Promise.resolve(this.inner.lease(r));
  }
}

describe("RequestBudget with a shared store", () => {
  it("most checks spend the local lease: one store call per chunk, concurrent checks share the one in flight", async () => {
    const clock = new Clock();
    const store = new FlakyStore(clock.now);
    const b = new RequestBudget({ store, settings: { ...SETTINGS, requestsPerWindow: 100, maxChunk: 10, divisor: 1 }, now: clock.now });
    const first = await Promise.all(Array.from({ length: 10 }, () => b.take(acme, "c")));
    expect(first.every((v) => v === SPENT)).toBe(true);
    expect(store.calls).toBe(1);
    // The lease is spent: synchronous answers need no store at all until it runs out.
    expect(b.take(acme, "c")).toBeInstanceOf(Promise);
    expect(b.mode).toBe("fleet");
  });

  it("a burst of concurrent first checks on one replica is served by a few leases, none refused while budget is left", async () => {
    const clock = new Clock();
    const store = new FlakyStore(clock.now);
    const b = new RequestBudget({ store, settings: { ...SETTINGS, requestsPerWindow: 300, maxChunk: 20, divisor: 8 }, now: clock.now });
    const verdicts = await Promise.all(Array.from({ length: 250 }, () => b.take(acme, "c")));
    expect(verdicts.filter((v) => v === SPENT)).toHaveLength(250);
    expect(store.calls).toBeLessThanOrEqual(16);
    const rest = await Promise.all(Array.from({ length: 100 }, () => b.take(acme, "c")));
    expect(rest.filter((v) => v === SPENT)).toHaveLength(50);
  });

  it("store down: the replica falls back to its share (budget / fallbackReplicas), says so, and recovers", async () => {
    const clock = new Clock();
    const store = new FlakyStore(clock.now);
    const obs = recorder();
    const b = new RequestBudget({ store, settings: { ...SETTINGS, maxChunk: 1 }, now: clock.now, observer: obs });
    expect(await b.take(acme, "c")).toBe(SPENT); // one leased from the store
    store.state = "down";
    // The failed lease falls back at once; then 9 more (20 / 2 replicas = 10, the one leased counts against it).
    const verdicts: BudgetVerdict[] = [];
    for (let i = 0; i < 12; i++) verdicts.push(await b.take(acme, "c"));
    expect(verdicts.filter((v) => v === SPENT)).toHaveLength(9);
    expect(verdicts.slice(9).every((v) => isBudgetError(v) && v.code === "exhausted")).toBe(true);
    expect(b.mode).toBe("fallback");
    expect(obs.fallbacks).toEqual([true]);
    expect(store.calls).toBe(2); // not asked again within retryStoreAfterMs
    // Redis is back: the key that spent under the fallback share keeps to it for the rest of the window, and
    // reports what it let through so that replicas leasing from the store count it.
    store.state = "up";
    clock.ms += 1_000;
    const after = await b.take(acme, "c");
    expect(after).toMatchObject({ code: "exhausted" });
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(store.debts).toEqual([9]);
    expect(b.mode).toBe("fleet");
    expect(obs.fallbacks).toEqual([true, false]);
    // The store's window holds 1 leased + 9 reported; another replica leasing from it gets the other 10.
    const other = new RequestBudget({ store, settings: { ...SETTINGS, maxChunk: 1 }, now: clock.now });
    let more = 0;
    while ((await other.take(acme, "c")) === SPENT) more++;
    expect(more).toBe(10);
    // The next window: leases from the store again.
    clock.ms = windowOf(T0, MINUTE).endsAtMs + 1;
    expect(await b.take(acme, "c")).toBe(SPENT);
    expect(store.debts).toEqual([9]);
  });

  it("a store that does not answer within storeTimeoutMs counts as down: the check is answered from the fallback", async () => {
    const clock = new Clock();
    const store = new FlakyStore(clock.now);
    store.state = "hang";
    const b = new RequestBudget({ store, settings: SETTINGS, now: clock.now });
    const started = Date.now();
    expect(await b.take(acme, "c")).toBe(SPENT);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(b.mode).toBe("fallback");
  });

  it("a store that throws instead of rejecting is a failure too, never a crash or an allow beyond the share", () => {
    const clock = new Clock();
    const store: BudgetStore = {
      scope: "fleet",
      lease: () => {
        throw new Error("boom");
      },
    };
    const b = new RequestBudget({ store, settings: SETTINGS, now: clock.now });
    let n = 0;
    while (syncTake(b, acme) === SPENT) n++;
    expect(n).toBe(10);
  });
});

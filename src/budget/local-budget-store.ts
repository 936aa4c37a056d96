/**
 * The in-memory BudgetStore: one replica's budget (no Redis), and the fallback every replica uses while Redis is
 * unreachable. Windows come from the injected clock; counters of ended windows are dropped as new ones start.
 */
import type { BudgetStore, LeaseAnswer, LeaseRequest } from "./budget-store.js";
import { grant, windowOf } from "./window.js";

interface Counter {
  window: number;
  endsAtMs: number;
  used: number;
  /** Caller identity -> what its leases took in this window. */
  readonly callers: Map<string, number>;
}

export class LocalBudgetStore implements BudgetStore {
  readonly scope = "replica" as const;
  readonly #counters = new Map<string, Counter>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  lease(r: LeaseRequest): LeaseAnswer {
    const now = this.#now();
    const w = windowOf(now, r.windowMs);
    let c = this.#counters.get(r.tenant);
    if (c === undefined || c.window !== w.index) {
      if (c === undefined && this.#counters.size >= MAX_TENANTS) this.#sweep(now);
      c = { window: w.index, endsAtMs: w.endsAtMs, used: 0, callers: new Map() };
      this.#counters.set(r.tenant, c);
    }
    c.used += r.debt;
    if (r.caller !== undefined && r.debt > 0) c.callers.set(r.caller, (c.callers.get(r.caller) ?? 0) + r.debt);
    const callerUsed = r.caller === undefined ? undefined : (c.callers.get(r.caller) ?? 0);
    const g = grant({ limit: r.limit, used: c.used, callerLimit: r.callerLimit, callerUsed, want: r.want, need: r.need, divisor: r.divisor });
    c.used += g.granted;
    if (r.caller !== undefined && g.granted > 0) c.callers.set(r.caller, callerUsed! + g.granted);
    return { granted: g.granted, limitedBy: g.limitedBy, windowLeftMs: w.endsAtMs - now };
  }

  /** Counters of windows that have ended hold nothing anyone needs. */
  #sweep(now: number): void {
    for (const [tenant, c] of this.#counters) if (c.endsAtMs <= now) this.#counters.delete(tenant);
  }
}

/** Tenants with a live counter before old ones are swept; well above tokens.maxTenants' default. */
const MAX_TENANTS = 20_000;

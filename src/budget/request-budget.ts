/**
 * The per-tenant request budget as one replica spends it. For each tenant (and caller identity, when the tenant
 * has caller shares) it holds a lease from the BudgetStore: a count of requests it may let through in the
 * store's current window. Spending one is a decrement, synchronous, no I/O; only an empty lease asks the store
 * again (one request in flight per key, the checks that arrive meanwhile wait for it). Once the store says the
 * window is spent, every check for that key is refused locally until the window ends, with the seconds left as
 * Retry-After.
 *
 * A store that fails or does not answer within `storeTimeoutMs` (Redis down) is left alone for `retryStoreAfterMs`
 * while this replica enforces its fallback share, `1 / fallbackReplicas` of the budget, in a local store, counting
 * against it what it had already leased in that window. A key that spent under the fallback share keeps to it until
 * the window ends, even once the store answers again, and reports what it let through (`debt`) to the store's
 * window, so the replicas leasing from the store count it and a store that returns mid-window does not hand that
 * budget out twice. Never an unbounded allow: every path ends in a grant counted somewhere or a refusal.
 */
import type { Tenant } from "../tenants/tenant.js";
import { raceSignal } from "../util/abort.js";
import type { BudgetStore, LeaseAnswer, LeaseRequest } from "./budget-store.js";
import { budgetError, SPENT, type BudgetVerdict } from "./budget-errors.js";
import { LocalBudgetStore } from "./local-budget-store.js";
import { callerLimitOf, retryAfterSeconds } from "./window.js";

export interface BudgetSettings {
  /** Requests per window per tenant, unless the tenant says otherwise (Tenant.budget). */
  readonly requestsPerWindow: number;
  /** Fraction of a tenant's budget one caller identity may spend per window (1: no caller limit). */
  readonly callerShare: number;
  readonly windowMs: number;
  /** The largest lease a replica takes at once, and the fraction (1/divisor) of what is left it may take. */
  readonly maxChunk: number;
  readonly divisor: number;
  /** The store is unreachable: each replica enforces budget / fallbackReplicas on its own. */
  readonly fallbackReplicas: number;
  readonly storeTimeoutMs: number;
  readonly retryStoreAfterMs: number;
  /**
   * Local counters only (no shared store): processes of one pod that each keep their own (multi-worker mode)
   * enforce 1/localShares of the budget each. 1 for a single process.
   */
  readonly localShares: number;
}

/** What the budget reports as it works (metrics); the composition root wires it. */
export interface BudgetObserver {
  spent(tenant: string, result: "granted" | "budget_exhausted" | "caller_share_exhausted"): void;
  lease(outcome: "granted" | "exhausted" | "unavailable", durationMs: number): void;
  fallback(active: boolean): void;
}

/** "replica": no shared store; "fleet": leases from the shared store; "fallback": the shared store is unreachable. */
export type BudgetMode = "replica" | "fleet" | "fallback";

interface Lease {
  remaining: number;
  /** End of the window the lease belongs to, on this replica's clock. */
  endsAtMs: number;
  /** What this replica took of the store's window: leases granted, charged debt included. */
  taken: number;
  exhausted: "tenant" | "caller" | undefined;
  pending: Promise<void> | undefined;
  /** Let through under the fallback share, not yet charged to the store, and the end of the window they belong to. */
  debt: number;
  debtEndsAtMs: number;
  /** A report of the debt to the store is in flight. */
  reporting: boolean;
  /** Checks waiting for the lease in flight: the next lease asks for at least that many. */
  waiting: number;
}

/**
 * Lease rounds a check may wait through before it is refused (as exhausted, Retry-After 1 s): only a burst far
 * larger than the leases it queues behind gets there, and each round is one store call (≤ storeTimeoutMs).
 */
const MAX_ATTEMPTS = 16;

export class RequestBudget {
  readonly #store: BudgetStore;
  readonly #fallback: LocalBudgetStore;
  readonly #settings: BudgetSettings;
  readonly #now: () => number;
  readonly #observer: BudgetObserver | undefined;
  readonly #leases = new Map<string, Lease>();
  #storeDownUntil = 0;
  #down = false;

  constructor(opts: { store: BudgetStore; settings: BudgetSettings; now?: () => number; observer?: BudgetObserver | undefined }) {
    this.#store = opts.store;
    this.#settings = opts.settings;
    this.#now = opts.now ?? Date.now;
    this.#fallback = new LocalBudgetStore(this.#now);
    this.#observer = opts.observer;
  }

  get mode(): BudgetMode {
    if (this.#store.scope === "replica") return "replica";
    return this.#down ? "fallback" : "fleet";
  }

  /** Spend one request of the tenant's budget for this caller: at once from the lease, or after asking the store. */
  take(tenant: Pick<Tenant, "id" | "budget">, caller: string): BudgetVerdict | Promise<BudgetVerdict> {
    return this.#take(tenant, caller, 1);
  }

  #take(tenant: Pick<Tenant, "id" | "budget">, caller: string, attempt: number): BudgetVerdict | Promise<BudgetVerdict> {
    const s = this.#settings;
    const whole = tenant.budget?.requestsPerWindow ?? s.requestsPerWindow;
    const limit = this.#store.scope === "replica" && s.localShares > 1 ? Math.max(1, Math.floor(whole / s.localShares)) : whole;
    const callerLimit = callerLimitOf(limit, tenant.budget?.callerShare ?? s.callerShare);
    const key = callerLimit === undefined ? tenant.id : `${tenant.id}\n${caller}`;
    const now = this.#now();
    let lease = this.#leases.get(key);
    if (lease === undefined) {
      if (this.#leases.size >= MAX_LEASES) this.#sweep(now);
      lease = { remaining: 0, endsAtMs: 0, taken: 0, exhausted: undefined, pending: undefined, debt: 0, debtEndsAtMs: 0, reporting: false, waiting: 0 };
      this.#leases.set(key, lease);
    }
    if (now >= lease.endsAtMs && lease.pending === undefined) {
      lease.remaining = 0;
      lease.taken = 0;
      lease.exhausted = undefined;
    }
    if (lease.remaining > 0) {
      lease.remaining--;
      this.#observer?.spent(tenant.id, "granted");
      return SPENT;
    }
    if (lease.exhausted !== undefined) return this.#refused(tenant.id, lease.exhausted, now, lease.endsAtMs);
    if (lease.pending !== undefined) {
      lease.waiting++;
      return lease.pending.then(() => this.#again(tenant, caller, attempt));
    }
    const request: LeaseRequest = {
      tenant: tenant.id,
      caller: callerLimit === undefined ? undefined : caller,
      limit,
      callerLimit,
      windowMs: s.windowMs,
      want: s.maxChunk,
      // A burst that queued behind the last lease asks for all of it at once.
      need: lease.waiting + 1,
      divisor: s.divisor,
      debt: 0,
    };
    lease.waiting = 0;
    if (this.#down && now < this.#storeDownUntil) return this.#fromFallback(tenant.id, request, lease, now);
    // This key spent under the fallback share in this window: it keeps to that share until the window ends (other
    // replicas may have done the same, and the store cannot know until each reports), and reports what it let
    // through so that the replicas leasing from the store count it.
    if (now < lease.debtEndsAtMs) {
      this.#report(request, lease);
      return this.#fromFallback(tenant.id, request, lease, now);
    }
    const started = now;
    let answer: LeaseAnswer | Promise<LeaseAnswer>;
    try {
      answer = this.#store.lease(request);
    } catch {
      return this.#storeFailed(tenant.id, request, lease, started);
    }
    if (!(answer instanceof Promise)) {
      this.#apply(lease, request, answer, started);
      return this.#again(tenant, caller, attempt);
    }
    const l = lease;
    const pending = raceSignal(answer, AbortSignal.timeout(s.storeTimeoutMs)).then(
      (a) => this.#apply(l, request, a, started),
      () => {
        this.#markDown(started);
        this.#observer?.lease("unavailable", this.#now() - started);
      },
    );
    lease.pending = pending.finally(() => {
      l.pending = undefined;
    });
    return lease.pending.then(() => this.#again(tenant, caller, attempt));
  }

  /** A check that waited for a lease tries again; a few rounds at most (many waiters, small leases). */
  #again(tenant: Pick<Tenant, "id" | "budget">, caller: string, attempt: number): BudgetVerdict | Promise<BudgetVerdict> {
    if (attempt >= MAX_ATTEMPTS) return this.#refused(tenant.id, "tenant", this.#now(), this.#now() + 1000);
    return this.#take(tenant, caller, attempt + 1);
  }

  #apply(lease: Lease, request: LeaseRequest, a: LeaseAnswer, started: number): void {
    const now = this.#now();
    if (this.#down) {
      this.#down = false;
      this.#observer?.fallback(false);
    }
    lease.endsAtMs = now + a.windowLeftMs;
    lease.taken += a.granted + request.debt;
    lease.remaining += a.granted;
    lease.exhausted = a.granted === 0 ? (a.limitedBy ?? "tenant") : undefined;
    this.#observer?.lease(a.granted > 0 ? "granted" : "exhausted", now - started);
  }

  /** Charge this key's fallback spend to the store's window (want 0: nothing is granted); one report in flight. */
  #report(request: LeaseRequest, lease: Lease): void {
    if (lease.reporting || lease.debt === 0) return;
    const debt = lease.debt;
    lease.reporting = true;
    const started = this.#now();
    let answer: LeaseAnswer | Promise<LeaseAnswer>;
    try {
      answer = this.#store.lease({ ...request, want: 0, need: 0, debt });
    } catch {
      lease.reporting = false;
      this.#markDown(started);
      return;
    }
    void raceSignal(Promise.resolve(answer), AbortSignal.timeout(this.#settings.storeTimeoutMs)).then(
      () => {
        lease.debt -= debt;
        lease.reporting = false;
        if (this.#down) {
          this.#down = false;
          this.#observer?.fallback(false);
        }
      },
      () => {
        lease.reporting = false;
        this.#markDown(this.#now());
      },
    );
  }

  #storeFailed(tenant: string, request: LeaseRequest, lease: Lease, started: number): BudgetVerdict {
    this.#markDown(started);
    this.#observer?.lease("unavailable", this.#now() - started);
    return this.#fromFallback(tenant, request, lease, this.#now());
  }

  #markDown(now: number): void {
    this.#storeDownUntil = now + this.#settings.retryStoreAfterMs;
    if (!this.#down) {
      this.#down = true;
      this.#observer?.fallback(true);
    }
  }

  /**
   * The store is unreachable: this replica's share of the budget, from the local store. What it had leased from the
   * store in this window counts against the share (charged once, as the local window's first debt).
   */
  #fromFallback(tenant: string, r: LeaseRequest, lease: Lease, now: number): BudgetVerdict {
    const n = this.#settings.fallbackReplicas;
    const carried = now < lease.endsAtMs ? lease.taken : 0;
    lease.taken = 0;
    const a = this.#fallback.lease({
      ...r,
      limit: Math.max(1, Math.floor(r.limit / n)),
      callerLimit: r.callerLimit === undefined ? undefined : Math.max(1, Math.floor(r.callerLimit / n)),
      want: 1,
      need: 1,
      divisor: 1,
      debt: carried,
    });
    const endsAt = now + a.windowLeftMs;
    if (a.granted === 0) return this.#refused(tenant, a.limitedBy ?? "tenant", now, endsAt);
    if (now >= lease.debtEndsAtMs) lease.debt = 0;
    lease.debt += 1;
    lease.debtEndsAtMs = endsAt;
    this.#observer?.spent(tenant, "granted");
    return SPENT;
  }

  #refused(tenant: string, limitedBy: "tenant" | "caller", now: number, endsAtMs: number): BudgetVerdict {
    const code = limitedBy === "tenant" ? "exhausted" : "caller_share_exhausted";
    this.#observer?.spent(tenant, limitedBy === "tenant" ? "budget_exhausted" : "caller_share_exhausted");
    return budgetError(code, retryAfterSeconds(now, endsAtMs));
  }

  #sweep(now: number): void {
    for (const [key, l] of this.#leases) if (now >= l.endsAtMs && l.pending === undefined && now >= l.debtEndsAtMs) this.#leases.delete(key);
  }
}

/** Leases kept before those of ended windows are dropped (tenants × caller identities with shares). */
const MAX_LEASES = 50_000;

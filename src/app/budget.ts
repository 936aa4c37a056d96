/**
 * The per-tenant request budget, wired from config `budgets`: the store (this process's own counters, or leases
 * from Redis shared by the fleet) and the RequestBudget the authorizer spends from. Without `budgets`: none.
 */
import type { Config } from "../config/index.js";
import type { BudgetStore } from "../budget/budget-store.js";
import { LocalBudgetStore } from "../budget/local-budget-store.js";
import { RequestBudget, type BudgetObserver } from "../budget/request-budget.js";

export interface BudgetWiring {
  readonly config: Config;
  readonly observer: BudgetObserver;
  /** The shared store (store: redis); the local store when absent. */
  readonly store?: BudgetStore | undefined;
  /**
   * Processes that each keep their own local counters for the same pod (multi-worker mode without Redis): each
   * enforces 1/localShares of the budget, so together they stay within it.
   */
  readonly localShares?: number;
}

export function buildBudget(w: BudgetWiring): RequestBudget | undefined {
  const b = w.config.budgets;
  if (!b) return undefined;
  return new RequestBudget({
    store: w.store ?? new LocalBudgetStore(),
    settings: {
      requestsPerWindow: b.requestsPerWindow,
      callerShare: b.callerShare,
      windowMs: b.windowSeconds * 1000,
      maxChunk: b.lease.maxChunk,
      divisor: b.lease.divisor,
      fallbackReplicas: b.fallbackReplicas,
      storeTimeoutMs: b.storeTimeoutMs,
      retryStoreAfterMs: b.retryStoreAfterMs,
      localShares: w.localShares ?? 1,
    },
    observer: w.observer,
  });
}

/** What /readyz says of the budget: per-replica (local counters), fleet (Redis answering), fallback (Redis down). */
export function budgetDetail(budget: RequestBudget | undefined): Record<string, string> {
  return budget === undefined ? {} : { budget: budget.mode };
}

/**
 * The per-tenant request budget, wired from config `budgets`: the store (this process's own counters, or leases
 * from Redis shared by the fleet) and the RequestBudget the authorizer spends from. Without `budgets`: none.
 */
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { connectFleetRedis, type FleetRedis } from "../fleet/redis.js";
import { RedisBudgetStore } from "../fleet/redis-budget-store.js";
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

export interface StartedBudget {
  readonly budget: RequestBudget | undefined;
  /** The Redis connection this budget opened (store: redis), closed by close(). */
  close(): Promise<void>;
}

/**
 * The budget with its store: with `budgets.store: redis`, leases from fleet.redis (a connection of its own unless
 * one is given; Redis down at start is a state, the fallback share applies until it answers).
 */
export async function startBudget(w: Omit<BudgetWiring, "store"> & { logger: Logger; redis?: FleetRedis | undefined }): Promise<StartedBudget> {
  const b = w.config.budgets;
  if (b?.store !== "redis" || !w.config.fleet) return { budget: buildBudget(w), close: async () => undefined };
  const own = w.redis === undefined;
  const redis = w.redis ?? (await connectFleetRedis(w.config.fleet.redis, { logger: w.logger, name: "scopegate-budget" }));
  return {
    budget: buildBudget({ ...w, store: new RedisBudgetStore(redis) }),
    close: async () => {
      if (own) await redis.close();
    },
  };
}

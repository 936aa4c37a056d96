/**
 * The BudgetStore port: where the replicas of a fleet take leases on a tenant's window. Owned by the request
 * budget (request-budget.ts), which spends leases locally. Adapters: LocalBudgetStore (one replica, in memory)
 * and RedisBudgetStore (every replica that shares one Redis).
 */

export interface LeaseRequest {
  /** The tenant id (the store key; never a secret). */
  readonly tenant: string;
  /** The caller identity whose share also limits this lease; undefined when the tenant has no caller shares. */
  readonly caller: string | undefined;
  readonly limit: number;
  readonly callerLimit: number | undefined;
  readonly windowMs: number;
  /** The chunk asked for ahead of demand (0: only charge the debt), and the checks waiting for it now. */
  readonly want: number;
  readonly need: number;
  readonly divisor: number;
  /**
   * Requests this replica already let through in the store's current window without a lease of it (while the
   * store was unreachable): charged before anything is granted, so a store that comes back mid-window does not
   * hand out that window's budget again.
   */
  readonly debt: number;
}

export interface LeaseAnswer {
  readonly granted: number;
  /** Set when nothing was granted: which limit is spent for the rest of the window. */
  readonly limitedBy: "tenant" | "caller" | undefined;
  /** Time left in the store's window (ms), by the store's own clock: the lease is void after it. */
  readonly windowLeftMs: number;
}

export interface BudgetStore {
  /** "replica": the budget is this replica's alone; "fleet": shared by every replica using the same store. */
  readonly scope: "replica" | "fleet";
  /** Synchronous for the local store; a promise (that may reject) for a store across the network. */
  lease(request: LeaseRequest): LeaseAnswer | Promise<LeaseAnswer>;
}

/**
 * The BudgetStore on the fleet's Redis (config budgets.store: redis): every replica sharing fleet.redis takes its
 * leases on a tenant's window from one hash, with one script call (EVALSHA, one round trip) per lease. Keys carry
 * the tenant id and caller identities only, never a secret or token: `<keyPrefix>budget:{<tenant>}` (the braces
 * keep a tenant's key in one Redis Cluster slot).
 *
 * While the connection is down the lease fails at once (no offline queue: src/fleet/redis.ts) and the request
 * budget falls back to its local share (src/budget/request-budget.ts).
 */
import { createHash } from "node:crypto";
import type { BudgetStore, LeaseAnswer, LeaseRequest } from "../budget/budget-store.js";
import { LEASE_SCRIPT } from "./budget-lease-script.js";
import type { FleetRedis } from "./redis.js";

const SHA = createHash("sha1").update(LEASE_SCRIPT).digest("hex");

export class RedisBudgetStore implements BudgetStore {
  readonly scope = "fleet" as const;

  constructor(private readonly redis: Pick<FleetRedis, "client" | "keyPrefix" | "isUp">) {}

  /** The hash a tenant's budget lives in. */
  keyOf(tenant: string): string {
    return `${this.redis.keyPrefix}budget:{${tenant}}`;
  }

  async lease(r: LeaseRequest): Promise<LeaseAnswer> {
    if (!this.redis.isUp()) throw new Error("fleet redis is down");
    const args = [r.windowMs, r.limit, r.caller === undefined ? "" : `c:${r.caller}`, r.callerLimit ?? 0, r.want, r.divisor, r.debt, r.need].map(String);
    const key = this.keyOf(r.tenant);
    let reply: unknown;
    try {
      reply = await this.redis.client.evalsha(SHA, 1, key, ...args);
    } catch (err) {
      // The script cache is empty after a Redis restart (or a SCRIPT FLUSH): send the script itself once.
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      reply = await this.redis.client.eval(LEASE_SCRIPT, 1, key, ...args);
    }
    return answerOf(reply);
  }
}

/** The script's reply, checked: anything else is a failure (the budget falls back), never a guessed grant. */
function answerOf(reply: unknown): LeaseAnswer {
  if (!Array.isArray(reply) || reply.length !== 3) throw new Error("unexpected budget script reply");
  const [granted, limitedBy, left] = reply as unknown[];
  if (typeof granted !== "number" || typeof left !== "number" || !Number.isInteger(granted) || granted < 0) throw new Error("unexpected budget script reply");
  const by = String(limitedBy);
  if (by !== "" && by !== "tenant" && by !== "caller") throw new Error("unexpected budget script reply");
  return { granted, limitedBy: by === "" ? undefined : by, windowLeftMs: Math.max(1, left) };
}

/** A tenant as the data path sees it: immutable, built once from config or from a secret-store record. */
import type { Profile } from "../profiles/index.js";

export interface Tenant {
  readonly id: string;
  readonly divisions: readonly string[];
  /** The environment the tenant lives in (an allowed one): where its token and its requests go. */
  readonly environment: string;
  /** The environment's identity-provider profile: how its token is requested, which route rules apply. */
  readonly profile: Profile;
  /** The environment's token endpoint (from the environments table, never from the tenant's own data). */
  readonly tokenUrl: string;
  /** The environment's API host. */
  readonly apiHost: string;
  /** Key of the tenant's record in the secret store. */
  readonly credentialsKey: string;
  /** Principals allowed to act for the tenant; empty = any caller. */
  readonly allowedPrincipals: readonly string[];
  /** Kubernetes namespaces allowed to act for the tenant; empty (with no principals) = any caller. */
  readonly allowedNamespaces: readonly string[];
  readonly source: "config" | "discovered";
  /** The tenant's own request budget (config tenants[].budget, or its record's budget_* fields); unset: budgets' defaults. */
  readonly budget?: TenantBudget | undefined;
}

/** A tenant's own request budget, where it differs from the `budgets` defaults. */
export interface TenantBudget {
  /** Requests per budget window. */
  readonly requestsPerWindow?: number | undefined;
  /** Fraction of that one caller identity may spend per window (0 < share ≤ 1). */
  readonly callerShare?: number | undefined;
}

/**
 * Where the layers below authz meet the deny reasons. Each lower layer speaks its own closed set of error codes
 * (tenant id, caller binding, tenant registry, token source, request budget) and imports nothing from authz; this one table says
 * which denial each code becomes, for an API call and for a gateway login, and nothing else does. A code added
 * below without a row here does not compile (`satisfies`).
 *
 * Logins answer differently where an answer would tell a caller which tenant ids exist: an unknown tenant, an
 * id the pattern refuses and a caller not bound to the tenant are all login_refused (docs/security.md "Gateway
 * login").
 */
import type { BudgetError, BudgetErrorCode } from "../budget/budget-errors.js";
import type { CallerBindingError, CallerBindingErrorCode } from "../tenants/caller-binding.js";
import type { RegistryError, RegistryErrorCode } from "../tenants/registry.js";
import type { TenantIdError, TenantIdErrorCode } from "../tenants/tenant-id.js";
import type { TokenSourceError, TokenSourceErrorCode } from "../tokens/token-source-errors.js";
import { deny, type Denial, type DenyReason } from "./deny-reasons.js";

interface Row {
  /** The reason an API call is denied with. */
  readonly api: DenyReason;
  /** The reason a gateway login is denied with. */
  readonly login: DenyReason;
}

export const LAYER_ERRORS = {
  tenant_id: {
    missing: { api: "tenant_missing", login: "login_refused" },
    ambiguous: { api: "tenant_ambiguous", login: "login_refused" },
    invalid: { api: "tenant_invalid", login: "login_refused" },
  },
  caller_binding: {
    not_allowed: { api: "caller_not_allowed", login: "login_refused" },
  },
  tenant_registry: {
    unknown: { api: "tenant_unknown", login: "login_refused" },
    store_unavailable: { api: "secrets_unavailable", login: "secrets_unavailable" },
  },
  token_source: {
    credentials_missing: { api: "credentials_missing", login: "credentials_missing" },
    store_unavailable: { api: "secrets_unavailable", login: "secrets_unavailable" },
    rejected: { api: "token_rejected", login: "token_rejected" },
    rate_limited: { api: "token_rate_limited", login: "token_rate_limited" },
    unavailable: { api: "token_unavailable", login: "token_unavailable" },
    deadline: { api: "deadline_exceeded", login: "deadline_exceeded" },
    // Only a cluster worker's source says this (the primary resolved the id itself and had no such tenant); a
    // login keeps the reason it always had here.
    tenant_unknown: { api: "tenant_unknown", login: "tenant_unknown" },
    internal: { api: "internal_error", login: "internal_error" },
  },
  // Logins are never counted against the budget (they reach no API); the login column is never used.
  budget: {
    exhausted: { api: "budget_exhausted", login: "budget_exhausted" },
    caller_share_exhausted: { api: "caller_share_exhausted", login: "caller_share_exhausted" },
  },
} as const satisfies {
  readonly tenant_id: { readonly [C in TenantIdErrorCode]: Row };
  readonly caller_binding: { readonly [C in CallerBindingErrorCode]: Row };
  readonly tenant_registry: { readonly [C in RegistryErrorCode]: Row };
  readonly token_source: { readonly [C in TokenSourceErrorCode]: Row };
  readonly budget: { readonly [C in BudgetErrorCode]: Row };
};

/** Any lower layer's error value. */
export type LayerError = TenantIdError | CallerBindingError | RegistryError | TokenSourceError | BudgetError;

/**
 * The denial a lower layer's error becomes. Allocation-free unless the error carries its own Retry-After
 * (deny() returns one frozen denial per reason).
 */
export function denialOf(error: LayerError, request: keyof Row = "api"): Denial {
  const row: Row = (LAYER_ERRORS[error.kind] as Readonly<Record<string, Row>>)[error.code]!;
  return deny(row[request], "retryAfterSeconds" in error ? error.retryAfterSeconds : undefined);
}

/**
 * The SecretStore port: read one tenant record by key. Owned by the code that uses it (tenants, tokens).
 * Failures are values: `not_found` is an answer, `unavailable` means the store could not answer.
 */
import type { AccessKey, ClientCredentials } from "./credentials.js";

export interface TenantRecord {
  readonly credentials: ClientCredentials;
  /** An API user's access key (access_key_id, access_key_secret), for profiles whose grant needs one (NICE CXone). */
  readonly accessKey?: AccessKey;
  /** Present when the record also describes the tenant (discovery from the store). */
  readonly divisions?: readonly string[];
  readonly environment?: string;
  /** The identity-provider profile the record's tenant uses (src/profiles); absent = genesys-cloud. */
  readonly profile?: string;
  readonly tokenUrl?: string;
  /** Caller binding of a discovered tenant (allowed_principals, allowed_namespaces). */
  readonly allowedPrincipals?: readonly string[];
  readonly allowedNamespaces?: readonly string[];
  /**
   * A discovered tenant's own request budget (budget_requests_per_window, budget_caller_share), as written; the
   * tenant registry checks them (a malformed value defines no tenant).
   */
  readonly budgetRequestsPerWindow?: string;
  readonly budgetCallerShare?: string;
  /** Store version (KV v2 metadata.version, file mtime), to notice rotation. */
  readonly version?: string;
}

export type SecretReadResult =
  | { readonly kind: "found"; readonly record: TenantRecord }
  | { readonly kind: "not_found" }
  | { readonly kind: "unavailable"; readonly detail: string };

export interface SecretStore {
  read(key: string, signal: AbortSignal): Promise<SecretReadResult>;
}

/** Keys are tenant ids validated against the tenant pattern, or configured keys; re-checked here anyway. */
export function isSafeStoreKey(key: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(key) && !key.includes("..");
}

/**
 * The tenant registry: configured tenants (a snapshot, swapped whole on reload) and, when discovery is on,
 * tenants described by their own record in the secret store (<prefix>/<tenant>: client_id, client_secret,
 * divisions, environment | token_url), served without a restart. Unknown ids are cached negatively by the
 * CachedSecretStore, so a flood of bad ids costs one store read per id per window.
 */
import { deny, type Denial } from "../authz/deny-reasons.js";
import { isAcceptableTokenUrl, type TenantConfig } from "../config/index.js";
import type { CachedSecretStore } from "../secrets/cached-secret-store.js";
import type { SecretReadResult } from "../secrets/secret-store.js";
import { tokenUrlFor } from "../tokens/client-credentials.js";
import type { Tenant } from "./tenant.js";

/** Discovered tenants have no caller rules: one frozen empty list shared by all of them. */
const NO_ONE: readonly string[] = Object.freeze([]);

export function tenantFromConfig(t: TenantConfig): Tenant {
  return Object.freeze({
    id: t.id,
    divisions: Object.freeze([...t.divisions]),
    tokenUrl: t.tokenUrl ?? tokenUrlFor(t.environment as string),
    credentialsKey: t.credentialsKey ?? t.id,
    allowedPrincipals: Object.freeze([...t.allowedPrincipals]),
    allowedNamespaces: Object.freeze([...t.allowedNamespaces]),
    source: "config" as const,
  });
}

export class TenantRegistry {
  #configured: ReadonlyMap<string, Tenant>;
  /** Discovered tenants, memoised per record object so the hot path allocates nothing. */
  readonly #discovered = new WeakMap<object, Tenant>();

  constructor(
    tenants: readonly TenantConfig[],
    private readonly discovery: { readonly enabled: boolean; readonly store: CachedSecretStore },
  ) {
    this.#configured = snapshot(tenants);
  }

  /** Swap the configured tenants atomically (config reload). */
  replace(tenants: readonly TenantConfig[]): void {
    this.#configured = snapshot(tenants);
  }

  /** Synchronous resolution when the answer is already known. */
  peek(id: string): Tenant | Denial | undefined {
    const configured = this.#configured.get(id);
    if (configured) return configured;
    if (!this.discovery.enabled) return deny("tenant_unknown");
    const cached = this.discovery.store.peek(id);
    return cached ? this.#fromRead(id, cached) : undefined;
  }

  async resolve(id: string, signal: AbortSignal): Promise<Tenant | Denial> {
    const known = this.peek(id);
    if (known) return known;
    return this.#fromRead(id, await this.discovery.store.read(id, signal));
  }

  #fromRead(id: string, read: SecretReadResult): Tenant | Denial {
    if (read.kind === "not_found") return deny("tenant_unknown");
    if (read.kind === "unavailable") return deny("secrets_unavailable");
    const memo = this.#discovered.get(read.record);
    if (memo) return memo;
    const { divisions, environment, tokenUrl } = read.record;
    // A record without divisions or a token endpoint holds credentials only: it does not define a tenant.
    if (!divisions || divisions.length === 0 || (!environment && !tokenUrl)) return deny("tenant_unknown");
    if (tokenUrl && !isAcceptableTokenUrl(tokenUrl)) return deny("tenant_unknown");
    if (environment && !/^[a-z0-9.-]+\.[a-z]{2,}$/.test(environment)) return deny("tenant_unknown");
    // Shares the record's strings and (frozen) divisions array, and one empty list for the caller rules: a
    // discovered tenant adds one small object to its record, not copies of it.
    const tenant: Tenant = Object.freeze({
      id,
      divisions: Object.isFrozen(divisions) ? divisions : Object.freeze([...divisions]),
      tokenUrl: tokenUrl ?? tokenUrlFor(environment as string),
      credentialsKey: id,
      allowedPrincipals: NO_ONE,
      allowedNamespaces: NO_ONE,
      source: "discovered" as const,
    });
    this.#discovered.set(read.record, tenant);
    return tenant;
  }
}

function snapshot(tenants: readonly TenantConfig[]): ReadonlyMap<string, Tenant> {
  return new Map(tenants.map((t) => [t.id, tenantFromConfig(t)]));
}

/**
 * The tenant registry: configured tenants (a snapshot, swapped whole on reload) and, when discovery is on,
 * tenants described by their own record in the secret store (<prefix>/<tenant>: client_id, client_secret,
 * divisions, environment), served without a restart. A record names its environment only from the allowed
 * environments table, so the store cannot choose where credentials are sent: a `token_url` field is accepted only
 * when it is exactly that environment's token URL. Unknown ids are cached negatively by the
 * CachedSecretStore, so a flood of bad ids costs one store read per id per window.
 */
import { deny, type Denial } from "../authz/deny-reasons.js";
import type { Environment, Environments, TenantConfig } from "../config/index.js";
import type { CachedSecretStore } from "../secrets/cached-secret-store.js";
import type { SecretReadResult } from "../secrets/secret-store.js";
import type { Tenant } from "./tenant.js";

/** Discovered tenants have no caller rules: one frozen empty list shared by all of them. */
const NO_ONE: readonly string[] = Object.freeze([]);

/** A configured tenant; its environment was checked against the table when the config was parsed. */
export function tenantFromConfig(t: TenantConfig, environments: Environments): Tenant {
  const env = environments.get(t.environment);
  if (!env) throw new Error(`tenant ${t.id}: environment ${t.environment} is not allowed`);
  return Object.freeze({
    id: t.id,
    divisions: Object.freeze([...t.divisions]),
    environment: env.name,
    tokenUrl: env.tokenUrl,
    apiHost: env.apiHost,
    credentialsKey: t.credentialsKey ?? t.id,
    allowedPrincipals: Object.freeze([...t.allowedPrincipals]),
    allowedNamespaces: Object.freeze([...t.allowedNamespaces]),
    source: "config" as const,
  });
}

export class TenantRegistry {
  #configured: ReadonlyMap<string, Tenant>;
  #environments: Environments;
  /** Discovered tenants, memoised per record object so the hot path allocates nothing. */
  readonly #discovered = new WeakMap<object, Tenant>();

  constructor(
    tenants: readonly TenantConfig[],
    environments: Environments,
    private readonly discovery: { readonly enabled: boolean; readonly store: CachedSecretStore },
  ) {
    this.#environments = environments;
    this.#configured = snapshot(tenants, environments);
  }

  /** Swap the configured tenants and the environments table atomically (config reload). */
  replace(tenants: readonly TenantConfig[], environments: Environments): void {
    this.#configured = snapshot(tenants, environments);
    this.#environments = environments;
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
    // A record without divisions or an environment holds credentials only: it does not define a tenant.
    if (!divisions || divisions.length === 0 || !environment) return deny("tenant_unknown");
    const env: Environment | undefined = this.#environments.get(environment);
    // An environment outside the table, or a token URL other than the table's, would let the store pick where the
    // client secret is sent: refused.
    if (!env || (tokenUrl !== undefined && tokenUrl !== env.tokenUrl)) return deny("tenant_unknown");
    // Shares the record's strings and (frozen) divisions array, and one empty list for the caller rules: a
    // discovered tenant adds one small object to its record, not copies of it.
    const tenant: Tenant = Object.freeze({
      id,
      divisions: Object.isFrozen(divisions) ? divisions : Object.freeze([...divisions]),
      environment: env.name,
      tokenUrl: env.tokenUrl,
      apiHost: env.apiHost,
      credentialsKey: id,
      allowedPrincipals: NO_ONE,
      allowedNamespaces: NO_ONE,
      source: "discovered" as const,
    });
    this.#discovered.set(read.record, tenant);
    return tenant;
  }
}

function snapshot(tenants: readonly TenantConfig[], environments: Environments): ReadonlyMap<string, Tenant> {
  return new Map(tenants.map((t) => [t.id, tenantFromConfig(t, environments)]));
}

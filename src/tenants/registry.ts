/**
 * The tenant registry: configured tenants (a snapshot, swapped whole on reload) and, when discovery is on,
 * tenants described by their own record in the secret store (<prefix>/<tenant>: client_id, client_secret,
 * divisions, environment, and profile when not genesys-cloud), served without a restart. A record names its
 * environment only from the allowed environments table, so the store cannot choose where credentials are sent:
 * a `token_url` field is accepted only when it is exactly that environment's token URL, and a `profile` only when
 * it is that environment's profile. Unknown ids are cached negatively by the CachedSecretStore,
 * so a flood of bad ids costs one store read per id per window.
 *
 * Who may act for a discovered tenant comes from its record (allowed_principals, allowed_namespaces), else
 * from discovery.defaultBinding, else no one (caller-binding.ts denies an unbound discovered tenant). A
 * secret-store key that a configured tenant names as its credentialsKey is never a tenant of its own: its
 * record would otherwise let a caller mint with the configured tenant's OAuth client under another id,
 * without that tenant's binding.
 */
import type { Environment, Environments, TenantConfig } from "../config/index.js";
import { profileById } from "../profiles/index.js";
import type { CachedSecretStore } from "../secrets/cached-secret-store.js";
import type { SecretReadResult, TenantRecord } from "../secrets/secret-store.js";
import type { Tenant, TenantBudget } from "./tenant.js";

/**
 * Why the registry has no tenant for an id, as values of this layer (the authorizer maps them to deny reasons in
 * src/authz/layer-errors.ts). One frozen object per code: an unknown id allocates nothing.
 */
export const REGISTRY_ERRORS = {
  /** No such tenant: not configured, and no record in the store that defines one (or discovery is off). */
  unknown: Object.freeze({ kind: "tenant_registry", code: "unknown" }),
  /** The secret store could not be read, so whether the tenant exists is not known. */
  store_unavailable: Object.freeze({ kind: "tenant_registry", code: "store_unavailable" }),
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;
export type RegistryError = (typeof REGISTRY_ERRORS)[RegistryErrorCode];

export function isRegistryError(v: Tenant | RegistryError): v is RegistryError {
  return "kind" in v && v.kind === "tenant_registry";
}

const UNKNOWN = REGISTRY_ERRORS.unknown;

/** One frozen empty list shared by every discovered tenant without a binding of that kind. */
const NO_ONE: readonly string[] = Object.freeze([]);

/** Kubernetes namespace names (RFC 1123 labels), as the config schema accepts them. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface CallerBinding {
  readonly allowedPrincipals: readonly string[];
  readonly allowedNamespaces: readonly string[];
}

interface Snapshot {
  readonly tenants: ReadonlyMap<string, Tenant>;
  /** credentialsKey of every configured tenant that is not that tenant's own id. */
  readonly borrowedKeys: ReadonlySet<string>;
}

/** A configured tenant; its environment was checked against the table when the config was parsed. */
export function tenantFromConfig(t: TenantConfig, environments: Environments): Tenant {
  const env = environments.get(t.environment);
  if (!env) throw new Error(`tenant ${t.id}: environment ${t.environment} is not allowed`);
  if (env.profile !== profileById(t.profile)) throw new Error(`tenant ${t.id}: environment ${t.environment} is not of profile ${t.profile}`);
  return Object.freeze({
    id: t.id,
    divisions: Object.freeze([...t.divisions]),
    environment: env.name,
    profile: env.profile,
    tokenUrl: env.tokenUrl,
    apiHost: env.apiHost,
    credentialsKey: t.credentialsKey ?? t.id,
    allowedPrincipals: Object.freeze([...t.allowedPrincipals]),
    allowedNamespaces: Object.freeze([...t.allowedNamespaces]),
    source: "config" as const,
    ...(t.budget ? { budget: Object.freeze({ ...t.budget }) } : {}),
  });
}

export class TenantRegistry {
  #configured: Snapshot;
  #environments: Environments;
  /** Discovered tenants, memoised per record object so the hot path allocates nothing. */
  readonly #discovered = new WeakMap<object, Tenant>();
  readonly #defaultBinding: CallerBinding;

  constructor(
    tenants: readonly TenantConfig[],
    environments: Environments,
    private readonly discovery: {
      readonly enabled: boolean;
      readonly store: CachedSecretStore;
      /** Binding of a discovered tenant whose record has none (config discovery.defaultBinding). */
      readonly defaultBinding?: CallerBinding | undefined;
    },
  ) {
    this.#environments = environments;
    this.#configured = snapshot(tenants, environments);
    const d = discovery.defaultBinding;
    this.#defaultBinding = {
      allowedPrincipals: d && d.allowedPrincipals.length > 0 ? Object.freeze([...d.allowedPrincipals]) : NO_ONE,
      allowedNamespaces: d && d.allowedNamespaces.length > 0 ? Object.freeze([...d.allowedNamespaces]) : NO_ONE,
    };
  }

  /** Swap the configured tenants and the environments table atomically (config reload). */
  replace(tenants: readonly TenantConfig[], environments: Environments): void {
    this.#configured = snapshot(tenants, environments);
    this.#environments = environments;
  }

  /** Synchronous resolution when the answer is already known. */
  peek(id: string): Tenant | RegistryError | undefined {
    const { tenants, borrowedKeys } = this.#configured;
    const configured = tenants.get(id);
    if (configured) return configured;
    if (!this.discovery.enabled || borrowedKeys.has(id)) return UNKNOWN;
    const cached = this.discovery.store.peek(id);
    return cached ? this.#fromRead(id, cached) : undefined;
  }

  async resolve(id: string, signal: AbortSignal): Promise<Tenant | RegistryError> {
    const known = this.peek(id);
    if (known) return known;
    return this.#fromRead(id, await this.discovery.store.read(id, signal));
  }

  #fromRead(id: string, read: SecretReadResult): Tenant | RegistryError {
    // Checked again after a store read: a reload may have made the id a configured tenant's key meanwhile.
    if (read.kind === "not_found" || this.#configured.borrowedKeys.has(id)) return UNKNOWN;
    if (read.kind === "unavailable") return REGISTRY_ERRORS.store_unavailable;
    const memo = this.#discovered.get(read.record);
    if (memo) return memo;
    const { divisions, environment, tokenUrl, profile } = read.record;
    // A record without divisions or an environment holds credentials only: it does not define a tenant.
    if (!divisions || divisions.length === 0 || !environment) return UNKNOWN;
    const env: Environment | undefined = this.#environments.get(environment);
    // An environment outside the table, or a token URL other than the table's, would let the store pick where the
    // client secret is sent: refused.
    if (!env || (tokenUrl !== undefined && tokenUrl !== env.tokenUrl)) return UNKNOWN;
    // The record's profile (default genesys-cloud) must be its environment's: a record cannot pick another grant.
    if (profileById(profile) !== env.profile) return UNKNOWN;
    const binding = this.#bindingOf(read.record);
    if (binding === undefined) return UNKNOWN;
    // A malformed budget defines no tenant either: guessing a budget could let through more than the owner set.
    const budget = budgetOf(read.record);
    if (budget === "malformed") return UNKNOWN;
    // Shares the record's strings and (frozen) arrays, and one empty list for absent caller rules: a
    // discovered tenant adds one small object to its record, not copies of it.
    const tenant: Tenant = Object.freeze({
      id,
      divisions: Object.isFrozen(divisions) ? divisions : Object.freeze([...divisions]),
      environment: env.name,
      profile: env.profile,
      tokenUrl: env.tokenUrl,
      apiHost: env.apiHost,
      credentialsKey: id,
      allowedPrincipals: binding.allowedPrincipals,
      allowedNamespaces: binding.allowedNamespaces,
      source: "discovered" as const,
      ...(budget ? { budget } : {}),
    });
    this.#discovered.set(read.record, tenant);
    return tenant;
  }

  /**
   * The record's own binding if it has one (either field), else the configured default. Undefined when a
   * namespace entry is not a namespace name: a malformed binding defines no tenant rather than a guessed one.
   */
  #bindingOf(record: TenantRecord): CallerBinding | undefined {
    const { allowedPrincipals, allowedNamespaces } = record;
    if (allowedPrincipals === undefined && allowedNamespaces === undefined) return this.#defaultBinding;
    if (allowedNamespaces !== undefined && !allowedNamespaces.every((ns) => NAMESPACE.test(ns))) return undefined;
    return { allowedPrincipals: allowedPrincipals ?? NO_ONE, allowedNamespaces: allowedNamespaces ?? NO_ONE };
  }
}

/** A record's budget_requests_per_window (a positive integer) and budget_caller_share (0 < share ≤ 1). */
export function budgetOf(record: Pick<TenantRecord, "budgetRequestsPerWindow" | "budgetCallerShare">): TenantBudget | undefined | "malformed" {
  const { budgetRequestsPerWindow: n, budgetCallerShare: share } = record;
  if (n === undefined && share === undefined) return undefined;
  const requests = n === undefined ? undefined : /^[1-9][0-9]{0,8}$/.test(n) ? Number(n) : Number.NaN;
  const fraction = share === undefined ? undefined : /^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(share) ? Number(share) : Number.NaN;
  if (Number.isNaN(requests) || Number.isNaN(fraction) || fraction === 0) return "malformed";
  return Object.freeze({ ...(requests !== undefined ? { requestsPerWindow: requests } : {}), ...(fraction !== undefined ? { callerShare: fraction } : {}) });
}

function snapshot(tenants: readonly TenantConfig[], environments: Environments): Snapshot {
  const configured = new Map(tenants.map((t) => [t.id, tenantFromConfig(t, environments)]));
  const borrowedKeys = new Set([...configured.values()].filter((t) => t.credentialsKey !== t.id).map((t) => t.credentialsKey));
  return { tenants: configured, borrowedKeys };
}

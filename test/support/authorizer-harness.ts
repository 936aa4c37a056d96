// An Authorizer wired with real pure parts, a real registry over an in-memory store, and a small fake
// token source. For table tests and property-based fuzzing of the whole decision path, in-process.
import { Authorizer, type CheckOutcome } from "../../src/authz/authorizer.js";
import { deny } from "../../src/authz/deny-reasons.js";
import { policyFrom } from "../../src/app/policy.js";
import { buildEnvironments, parseConfig } from "../../src/config/index.js";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import type { SecretReadResult, SecretStore } from "../../src/secrets/secret-store.js";
import { recordFromFields } from "../../src/secrets/record.js";
import { TenantRegistry, type CallerBinding } from "../../src/tenants/registry.js";
import type { Tenant } from "../../src/tenants/tenant.js";
import { TokenEntry, type TokenLookup, type TokenSource } from "../../src/tokens/token-provider.js";
import type { TokenSourceError } from "../../src/tokens/token-source-errors.js";
import { CheckRequest, CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { Deadline } from "../../src/util/deadline.js";
import type { CallerMode } from "../../src/tenants/caller-binding.js";
import type { GatewayTokens } from "../../src/gateway/gateway-tokens.js";
import type { RequestBudget } from "../../src/budget/request-budget.js";

export const TENANTS = [
  { id: "acme", divisions: ["div-acme"], environment: "mypurecloud.de" },
  { id: "globex", divisions: ["div-g1", "div-g2"], environment: "mypurecloud.ie", allowedPrincipals: ["spiffe://cluster.local/ns/globex/sa/*"] },
  { id: "initech", divisions: ["div-i"], environment: "mypurecloud.com", allowedNamespaces: ["initech"] },
];

/** Records by key, as a Vault KV v2 secret's fields (read through the real recordFromFields). */
class MapStore implements SecretStore {
  constructor(private readonly records: Readonly<Record<string, Record<string, unknown>>>) {}
  async read(key: string): Promise<SecretReadResult> {
    const fields = this.records[key];
    if (fields === undefined) return { kind: "not_found" };
    const record = recordFromFields(fields);
    return typeof record === "string" ? { kind: "unavailable", detail: record } : { kind: "found", record };
  }
}

/** Mints "Bearer tok-<tenant>" instantly; a tenant named in `failing` gets that error (the port's own codes). */
export class FakeTokens implements TokenSource {
  readonly entries = new Map<string, TokenEntry>();
  failing = new Map<string, TokenSourceError>();
  peek(tenant: Tenant): TokenEntry | undefined {
    return this.failing.has(tenant.id) ? undefined : this.entries.get(tenant.id);
  }
  async get(tenant: Tenant): Promise<TokenLookup | TokenSourceError> {
    const f = this.failing.get(tenant.id);
    if (f) return f;
    let e = this.entries.get(tenant.id);
    const cache = e ? "hit" : "miss";
    if (!e) {
      e = new TokenEntry(`Bearer tok-${tenant.id}`, Date.now() + 3_600_000, Date.now() + 3_000_000);
      this.entries.set(tenant.id, e);
    }
    return { entry: e, cache };
  }
}

export interface HarnessOptions {
  mode?: CallerMode;
  principalTenants?: Record<string, string>;
  allowList?: boolean;
  trustDomain?: string;
  localIdentity?: string;
  /** Configured tenants (default TENANTS, which are valid in local mode). */
  tenants?: readonly Record<string, unknown>[];
  /** Secret-store records by key; any given turns discovery on. */
  records?: Readonly<Record<string, Record<string, unknown>>>;
  defaultBinding?: CallerBinding;
  /** Config `environments` (default: the built-in ones, every Genesys Cloud region). */
  environments?: Record<string, Record<string, unknown>>;
  verifyHost?: boolean;
  /** Gateway login on, with this keyring (gatewayTokens). */
  gateway?: GatewayTokens;
  /** The per-tenant request budget (config budgets). */
  budget?: RequestBudget;
  now?: () => number;
}

export function harness(opts: HarnessOptions = {}) {
  // Parsed in local mode: mesh-mode tests use tenant sets check-config would refuse, to prove the runtime rule.
  const config = parseConfig({
    secrets: { backend: "file", file: { directory: "/nonexistent" } },
    tenants: opts.tenants ?? TENANTS,
    discovery: { fromSecretStore: true },
    callers: {
      principalTenants: opts.principalTenants ?? {},
      ...(opts.trustDomain ? { trustDomain: opts.trustDomain } : {}),
      ...(opts.localIdentity ? { localIdentity: opts.localIdentity } : {}),
    },
    routes: { mode: opts.allowList ? "allow-list" : "catalog" },
    egress: { verifyHost: opts.verifyHost ?? false },
    ...(opts.environments ? { environments: opts.environments } : {}),
  });
  const store = new CachedSecretStore(new MapStore(opts.records ?? {}), { ttlMs: 1000, negativeTtlMs: 1000, maxStaleMs: 0, max: 10, loadTimeoutMs: 100 });
  const tokens = new FakeTokens();
  // The production wiring's policy (src/app/policy.ts), with the caller mode set after parsing (see above).
  const production = policyFrom(config);
  const policy = { ...production, callers: { ...production.callers, mode: opts.mode ?? "local" } };
  const authorizer = new Authorizer({
    ...policy,
    registry: new TenantRegistry(config.tenants, buildEnvironments(config.environments), { enabled: opts.records !== undefined, store, defaultBinding: opts.defaultBinding }),
    tokens,
    gateway: opts.gateway,
    budget: opts.budget,
    ...(opts.now ? { now: opts.now } : {}),
  });
  /** A request as Envoy sends it: protobuf bytes (a CheckRequest object is encoded first). */
  const check = async (req: CheckRequest | Uint8Array): Promise<CheckOutcome & { response: CheckResponse }> => {
    const bytes = req instanceof Uint8Array ? req : CheckRequest.encode(req).finish();
    const o = await authorizer.check(bytes, new Deadline(5000));
    return { ...o, response: CheckResponse.decode(o.bytes) };
  };
  return { authorizer, tokens, check, policy };
}

export { deny };

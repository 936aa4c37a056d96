/**
 * The one orchestrator: CheckRequest bytes -> encoded CheckResponse. It is total: whatever happens, it returns
 * an answer, and anything unexpected becomes a denial (internal_error), never an allow. A check answered from
 * caches (tenant known, token cached) runs synchronously and returns the outcome itself: no promise, no timer.
 * Only a cache miss returns a promise, and only that path awaits (the registry and the token source, behind
 * ports); every step it calls is pure.
 */
import { CheckResponse } from "../gen/envoy/service/auth/v3/external_auth.js";
import type { Deadline } from "../util/deadline.js";
import { callerIdentity, checkCaller, type CallerRules } from "../tenants/caller-binding.js";
import type { TenantRegistry } from "../tenants/registry.js";
import type { Tenant } from "../tenants/tenant.js";
import { readTenantId, type TenantIdRules } from "../tenants/tenant-id.js";
import type { TokenEntry, TokenSource } from "../tokens/token-provider.js";
import { HeaderPicker, readCheckRequest } from "./check-request-wire.js";
import { answeredAs, DENY_REASONS, deny, isDenial, type Denial, type DenyReason } from "./deny-reasons.js";
import { mayNameDivisions, NO_QUERY_MUTATION, planDivision, type QueryMutation } from "./division-plan.js";
import { buildDeniedResponse, buildOkResponse } from "./response.js";
import type { RouteTable } from "./route-table.js";

/** The parts of the config a reload may change; swapped whole. */
export interface AuthzPolicy {
  readonly tenantId: TenantIdRules;
  readonly callers: CallerRules;
  readonly stripTenantHeader: boolean;
  readonly routes: RouteTable;
  readonly egress: { readonly upstreamHeader: string; readonly verifyHost: boolean };
}

export interface AuthorizerDeps extends AuthzPolicy {
  readonly registry: TenantRegistry;
  readonly tokens: TokenSource;
}

/** A division plan and the key its encoded answers are cached under (it includes the policy generation). */
interface Plan {
  readonly query: QueryMutation;
  readonly key: string;
}

interface ActivePolicy extends AuthzPolicy {
  readonly headersToRemove: readonly string[];
  /**
   * Plans of requests whose query cannot name a division (mayNameDivisions) on catalogued routes: they only
   * depend on the tenant's divisions (frozen arrays, shared per tenant) and the route's parameter name, so they
   * are built once per policy, not per check.
   */
  readonly plainPlans: Map<string, WeakMap<readonly string[], Plan>>;
  /** The plan of such a request on an uncatalogued route: leave the query alone. */
  readonly passThrough: Plan;
  /** The only headers read from a request: the tenant header and x-request-id. */
  readonly picker: HeaderPicker;
  /** Part of the encoded-response cache key: a new policy never reuses bytes built under the old one. */
  readonly generation: number;
}

export interface CheckOutcome {
  readonly bytes: Buffer;
  readonly decision: "allow" | "deny";
  readonly reason?: DenyReason;
  readonly tenant?: string;
  readonly tokenCache?: "hit" | "miss";
  readonly requestId: string;
  /** Whether the caller presented an mTLS principal (logged either way). */
  readonly mtls?: boolean;
  /** The tenant id resolved to a real tenant (not just a claim): only these may take a metric label. */
  readonly tenantKnown?: boolean;
}

/** A request whose tenant claim has been read and checked against the caller mapping. */
interface Claim {
  readonly id: string;
  readonly requestId: string;
  readonly principal: string;
  /** The tenant the caller's principal is mapped to (principalTenants), if any. */
  readonly mapped: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  /** The request's Host (:authority), lower case, without a port. */
  readonly host: string;
}

export class Authorizer {
  #policy: ActivePolicy;
  readonly #denied = new Map<string, Buffer>();

  constructor(private readonly deps: AuthorizerDeps) {
    this.#policy = activate(deps, 0);
  }

  /** Atomically swap tenant-header rules and route rules (config reload); in-flight checks finish on the old one. */
  updatePolicy(policy: AuthzPolicy): void {
    this.#policy = activate(policy, this.#policy.generation + 1);
  }

  /** The decision for one CheckRequest (its protobuf bytes): an outcome when caches answer, else a promise of one. */
  check(request: Uint8Array, deadline: Deadline): CheckOutcome | Promise<CheckOutcome> {
    const policy = this.#policy;
    let claim: Claim | undefined;
    try {
      const read = this.#claim(request, policy);
      if (!isClaim(read)) return read;
      claim = read;
      const tenant = this.deps.registry.peek(claim.id);
      if (tenant === undefined) return this.#afterLookups(claim, policy, deadline);
      if (isDenial(tenant)) return this.#deny(tenant, claim.requestId, claim.id, claim.principal);
      const plan = this.#plan(claim, tenant, policy);
      if (isDenial(plan)) return this.#deny(plan, claim.requestId, claim.id, claim.principal, true);
      const hit = this.deps.tokens.peek(tenant);
      if (hit === undefined) return this.#afterLookups(claim, policy, deadline, tenant);
      return this.#allow(claim, tenant, hit, "hit", plan, policy, deadline);
    } catch {
      return this.#deny(deny("internal_error"), claim?.requestId ?? "", claim?.id);
    }
  }

  /** The rest of a check whose tenant or token was not cached: waits for the registry and the token source. */
  async #afterLookups(claim: Claim, policy: ActivePolicy, deadline: Deadline, known?: Tenant): Promise<CheckOutcome> {
    try {
      const tenant = known ?? (await this.deps.registry.resolve(claim.id, deadline.signal));
      if (isDenial(tenant)) return this.#deny(afterIo(tenant, deadline), claim.requestId, claim.id, claim.principal);
      const plan = this.#plan(claim, tenant, policy);
      if (isDenial(plan)) return this.#deny(plan, claim.requestId, claim.id, claim.principal, true);
      const hit = this.deps.tokens.peek(tenant);
      const lookup = hit ? { entry: hit, cache: "hit" as const } : await this.deps.tokens.get(tenant, deadline.signal);
      if (isDenial(lookup)) return this.#deny(afterIo(lookup, deadline), claim.requestId, claim.id, claim.principal, true);
      return this.#allow(claim, tenant, lookup.entry, lookup.cache, plan, policy, deadline);
    } catch {
      return this.#deny(deny("internal_error"), claim.requestId, claim.id);
    } finally {
      deadline.release();
    }
  }

  /** Parse, then the tenant claim: from the header, or from the caller's mapped principal; they must agree. */
  #claim(request: Uint8Array, policy: ActivePolicy): Claim | CheckOutcome {
    const input = readCheckRequest(request, policy.picker);
    if (isDenial(input)) return this.#deny(input, "");
    const { requestId, sourcePrincipal: principal } = input;
    const identity = callerIdentity(principal, policy.callers);
    const mapped = identity === "" ? undefined : policy.callers.principalTenants.get(identity);
    const fromHeader = readTenantId(input.headers, policy.tenantId);
    let id: string;
    if (!isDenial(fromHeader)) {
      // A mapped caller may still send the header, but it must name the same tenant.
      if (mapped !== undefined && mapped !== fromHeader) return this.#deny(deny("caller_not_allowed"), requestId, fromHeader, principal);
      id = fromHeader;
    } else if (fromHeader.reason === "tenant_missing" && mapped !== undefined) {
      id = mapped;
    } else {
      return this.#deny(fromHeader, requestId, undefined, principal);
    }
    return { id, requestId, principal, mapped, method: input.method, path: input.path, rawQuery: input.rawQuery, host: input.host };
  }

  /** The caller may act for the tenant, and the route's division filter is planned within its divisions. */
  #plan(claim: Claim, tenant: Tenant, policy: ActivePolicy): Plan | Denial {
    // A principal mapped to this tenant is bound by that mapping; anyone else by the tenant's caller rules.
    const callerDenied = claim.mapped === claim.id ? undefined : checkCaller(tenant, claim.principal, policy.callers);
    if (callerDenied) return callerDenied;
    // Where Envoy routes by Host (the Istio egress gateway), the caller's Host must be the tenant's own API host.
    if (policy.egress.verifyHost && claim.host !== tenant.apiHost) return deny("upstream_mismatch");
    const route = policy.routes.match(claim.method, claim.path);
    const plain = !mayNameDivisions(claim.rawQuery);
    if (plain && route.kind === "uncatalogued") return policy.passThrough;
    if (plain && route.kind === "division") {
      // Keyed by parameter name (a handful) then by the divisions array (one small entry per tenant, no Map each).
      let byDivisions = policy.plainPlans.get(route.param);
      if (byDivisions === undefined) policy.plainPlans.set(route.param, (byDivisions = new WeakMap()));
      let plan = byDivisions.get(tenant.divisions);
      if (plan === undefined) {
        const query = planDivision(route, "", tenant.divisions);
        if (isDenial(query)) return query;
        plan = planFor(query, policy.generation);
        byDivisions.set(tenant.divisions, plan);
      }
      return plan;
    }
    const query = planDivision(route, claim.rawQuery, tenant.divisions);
    return isDenial(query) ? query : planFor(query, policy.generation);
  }

  /** The OK answer, encoded once per token, policy generation and division plan, then reused. */
  #allow(claim: Claim, tenant: Tenant, entry: TokenEntry, cache: "hit" | "miss", plan: Plan, policy: ActivePolicy, deadline: Deadline): CheckOutcome {
    // Authorino's rule: if Envoy has already given up on us, say so rather than answer late.
    if (deadline.expired) return this.#deny(deny("deadline_exceeded"), claim.requestId, claim.id, claim.principal, true);
    // A token belongs to one tenant and so to one environment: the cache key needs no environment of its own.
    let bytes = entry.encoded(plan.key);
    if (!bytes) {
      bytes = encode(
        buildOkResponse({
          authorization: entry.authorization,
          query: plan.query,
          headersToRemove: policy.headersToRemove,
          upstream: { header: policy.egress.upstreamHeader, environment: tenant.environment },
        }),
      );
      entry.remember(plan.key, bytes);
    }
    return { bytes, decision: "allow", tenant: claim.id, tenantKnown: true, tokenCache: cache, requestId: claim.requestId, mtls: claim.principal !== "" };
  }

  /** A denial outside the pipeline (shutting down, a failure in the transport). */
  denial(reason: DenyReason): CheckOutcome {
    return this.#deny(deny(reason), "");
  }

  #deny(denial: Denial, requestId: string, tenant?: string, principal?: string, tenantKnown = false): CheckOutcome {
    // The caller is answered with the reason the table says for this mode; the outcome (log line, metrics)
    // keeps the real one.
    const answered = answeredAs(denial, this.#policy.callers.mode);
    const cacheKey = `${answered.reason}:${answered.retryAfterSeconds ?? ""}`;
    let bytes = this.#denied.get(cacheKey);
    if (!bytes) {
      bytes = encode(buildDeniedResponse(answered));
      if (this.#denied.size < 256) this.#denied.set(cacheKey, bytes);
    }
    return {
      bytes,
      decision: "deny",
      reason: denial.reason,
      requestId,
      ...(tenant === undefined ? {} : { tenant, tenantKnown }),
      ...(principal === undefined ? {} : { mtls: principal !== "" }),
    };
  }
}

function isClaim(x: Claim | CheckOutcome): x is Claim {
  return !("bytes" in x);
}

/** A store or endpoint that "failed" because our deadline cut it short is reported as the deadline. */
function afterIo(denial: Denial, deadline: Deadline): Denial {
  return deadline.expired && DENY_REASONS[denial.reason].retryable ? deny("deadline_exceeded") : denial;
}

function activate(p: AuthzPolicy, generation: number): ActivePolicy {
  return {
    tenantId: p.tenantId,
    callers: p.callers,
    stripTenantHeader: p.stripTenantHeader,
    routes: p.routes,
    egress: p.egress,
    headersToRemove: p.stripTenantHeader ? [p.tenantId.header] : [],
    picker: new HeaderPicker([p.tenantId.header, "x-request-id"]),
    plainPlans: new Map(),
    passThrough: planFor(NO_QUERY_MUTATION, generation),
    generation,
  };
}

function planFor(query: QueryMutation, generation: number): Plan {
  return { query, key: planKey(generation, query) };
}

function planKey(generation: number, q: QueryMutation): string {
  if (q.set.length === 0 && q.remove.length === 0) return String(generation);
  return `${generation}|${q.set.map((s) => `${s.key}=${s.value}`).join("&")}|${q.remove.join("&")}`;
}

export function encode(response: CheckResponse): Buffer {
  const u8 = CheckResponse.encode(response).finish();
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

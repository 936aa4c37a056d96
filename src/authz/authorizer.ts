/**
 * The one orchestrator: CheckRequest bytes -> encoded CheckResponse. It is total: whatever happens, it returns
 * an answer, and anything unexpected becomes a denial (internal_error), never an allow. A check answered from
 * caches (tenant known, token cached) runs synchronously and returns the outcome itself: no promise, no timer.
 * Only a cache miss returns a promise, and only that path awaits (the registry and the token source, behind
 * ports); every step it calls is pure.
 *
 * Two kinds of request: an API call (its tenant from a gateway token, the tenant header or the caller's mapped
 * principal; answered OK with the tenant's token) and a gateway login (POST [/<prefix>]/oauth/token, answered by
 * scopegate itself with a gateway token). Both bind the caller to the tenant with the same check (bindCaller).
 */
import type { Deadline } from "../util/deadline.js";
import { isBudgetError, SPENT, type BudgetVerdict } from "../budget/budget-errors.js";
import type { RequestBudget } from "../budget/request-budget.js";
import { GATEWAY_TOKEN_PREFIX } from "../gateway/gateway-token.js";
import type { GatewayTokens } from "../gateway/gateway-tokens.js";
import { bindCaller, callerIdentity, type CallerRules } from "../tenants/caller-binding.js";
import { isRegistryError, type RegistryError, type TenantRegistry } from "../tenants/registry.js";
import type { Tenant } from "../tenants/tenant.js";
import { isTenantIdError, readTenantId, type TenantIdRules } from "../tenants/tenant-id.js";
import type { TokenEntry, TokenSource } from "../tokens/token-provider.js";
import { isTokenSourceError } from "../tokens/token-source-errors.js";
import { checkedHeaders, type CheckInput } from "./check-input.js";
import { HeaderPicker, readCheckRequest } from "./check-request-wire.js";
import { gatewayBearer, isLogin, readLogin } from "./gateway-login.js";
import { answeredAs, DENY_REASONS, deny, isDenial, type Denial, type DenyReason } from "./deny-reasons.js";
import { denialOf } from "./layer-errors.js";
import { mayNameDivisions, NO_QUERY_MUTATION, planDivision, type QueryMutation } from "./division-plan.js";
import { PlanMemo } from "./plan-memo.js";
import { buildDeniedResponse, buildLoginResponse, buildOkResponse, encode } from "./response.js";
import type { ProfileRoutes } from "./profile-routes.js";

/** The parts of the config a reload may change; swapped whole. */
export interface AuthzPolicy {
  readonly tenantId: TenantIdRules;
  readonly callers: CallerRules;
  readonly stripTenantHeader: boolean;
  /** One route table per identity-provider profile; a check uses its tenant's (src/authz/profile-routes.ts). */
  readonly routes: ProfileRoutes;
  readonly egress: { readonly upstreamHeader: string; readonly verifyHost: boolean };
}

export interface AuthorizerDeps extends AuthzPolicy {
  readonly registry: TenantRegistry;
  readonly tokens: TokenSource;
  /** Gateway login and gateway tokens (config gatewayTokens); without it logins are refused and no sgw1 token is accepted. */
  readonly gateway?: GatewayTokens | undefined;
  /**
   * The per-tenant request budget (config budgets): an API call that would be allowed spends one request of it,
   * or is denied budget_exhausted / caller_share_exhausted (429). Logins never spend. Unset: no budget.
   */
  readonly budget?: RequestBudget | undefined;
  readonly now?: () => number;
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
  /** Plans (and denials) of requests whose query may name a division, by keys, route, raw query and divisions. */
  readonly queryPlans: PlanMemo<Plan | Denial>;
  /** The plan of such a request on an uncatalogued route: leave the query alone. */
  readonly passThrough: Plan;
  /** The only headers read from a request: the tenant header, authorization and x-request-id. */
  readonly picker: HeaderPicker;
  /** Part of the encoded-response cache key: a new policy never reuses bytes built under the old one. */
  readonly generation: number;
}

export interface CheckOutcome {
  readonly bytes: Buffer;
  /** "login": a gateway login answered with a gateway token (Envoy answers the request itself). */
  readonly decision: "allow" | "deny" | "login";
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
  /** The caller's identity (its principal, or callers.localIdentity): whose share of the budget it spends. */
  readonly identity: string;
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

  readonly #now: () => number;

  constructor(private readonly deps: AuthorizerDeps) {
    this.#policy = activate(deps, 0);
    this.#now = deps.now ?? Date.now;
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
      const input = readCheckRequest(request, policy.picker);
      if (isDenial(input)) return this.#deny(input, "");
      if (isLogin(input.method, input.path)) return this.#login(input, policy, deadline);
      const read = this.#claim(input, policy);
      if (!isClaim(read)) return read;
      claim = read;
      return this.#lookup(claim, this.#apiSteps, policy, deadline);
    } catch {
      return this.#deny(deny("internal_error"), claim?.requestId ?? "", claim?.id);
    }
  }

  /**
   * The one decision path every request that names a tenant takes: the tenant (registry), the caller and route
   * (`steps.bind`), the tenant's token (token source), then `steps.finish`. Each lookup is synchronous when its
   * cache answers; only a miss returns a promise, and only the steps after it wait for it.
   */
  #lookup<C extends Named, P>(c: C, steps: Steps<C, P>, policy: ActivePolicy, deadline: Deadline): CheckOutcome | Promise<CheckOutcome> {
    const tenant = this.deps.registry.peek(c.id);
    if (tenant !== undefined) return this.#withTenant(c, tenant, steps, policy, deadline);
    return this.#waiting(
      this.deps.registry.resolve(c.id, deadline.signal).then((t) => this.#withTenant(c, t, steps, policy, deadline)),
      c,
      deadline,
    );
  }

  #withTenant<C extends Named, P>(c: C, tenant: Tenant | RegistryError, steps: Steps<C, P>, policy: ActivePolicy, deadline: Deadline): CheckOutcome | Promise<CheckOutcome> {
    if (isRegistryError(tenant)) return this.#deny(afterIo(denialOf(tenant, steps.column), deadline), c.requestId, c.id, c.principal);
    const bound = steps.bind(c, tenant, policy);
    if (isDenial(bound)) return this.#deny(bound, c.requestId, c.id, c.principal, steps.column === "api");
    const hit = this.deps.tokens.peek(tenant);
    if (hit !== undefined) {
      const done = steps.finish(c, tenant, bound, hit, "hit", policy, deadline);
      return done instanceof Promise ? this.#waiting(done, c, deadline) : done;
    }
    return this.#waiting(
      this.deps.tokens.get(tenant, deadline.signal).then((lookup) =>
        isTokenSourceError(lookup)
          ? this.#deny(afterIo(denialOf(lookup, steps.column), deadline), c.requestId, c.id, c.principal, true)
          : steps.finish(c, tenant, bound, lookup.entry, lookup.cache, policy, deadline),
      ),
      c,
      deadline,
    );
  }

  /** A check that waited for I/O: anything unexpected fails closed, and the deadline's timer goes when it ends. */
  #waiting(pending: Promise<CheckOutcome>, c: Named, deadline: Deadline): Promise<CheckOutcome> {
    return pending.then(
      (outcome) => {
        deadline.release();
        return outcome;
      },
      () => {
        deadline.release();
        return this.#deny(deny("internal_error"), c.requestId, c.id);
      },
    );
  }

  /** An API call: bind the caller and plan the route's division filter, then answer OK with the tenant's token. */
  readonly #apiSteps: Steps<Claim, Plan> = {
    column: "api",
    bind: (claim, tenant, policy) => this.#plan(claim, tenant, policy),
    finish: (claim, tenant, plan, entry, cache, policy, deadline) => this.#allow(claim, tenant, entry, cache, plan, policy, deadline),
  };

  /**
   * The tenant claim: from a gateway token, the header, or the caller's mapped principal; whichever are present
   * must agree.
   */
  #claim(input: CheckInput, policy: ActivePolicy): Claim | CheckOutcome {
    const { requestId, sourcePrincipal: principal } = input;
    const identity = callerIdentity(principal, policy.callers);
    const mapped = identity === "" ? undefined : policy.callers.principalTenants.get(identity);
    const fromHeader = readTenantId(input.headers, policy.tenantId);
    const bearer = gatewayBearer(input.headers.get("authorization"));
    let id: string;
    if (bearer !== undefined) {
      // A gateway token names its tenant and the identity it was issued to: only that identity may use it.
      const claims = this.deps.gateway?.verify(bearer, identity, this.#now()) ?? "invalid";
      if (claims === "invalid") return this.#deny(deny("gateway_token_invalid"), requestId, undefined, principal);
      const header = isTenantIdError(fromHeader) ? undefined : fromHeader;
      if (isTenantIdError(fromHeader) && fromHeader.code !== "missing") return this.#deny(denialOf(fromHeader), requestId, undefined, principal);
      if ((header !== undefined && header !== claims.tenant) || (mapped !== undefined && mapped !== claims.tenant)) {
        return this.#deny(deny("caller_not_allowed"), requestId, claims.tenant, principal);
      }
      id = claims.tenant;
    } else if (!isTenantIdError(fromHeader)) {
      // A mapped caller may still send the header, but it must name the same tenant.
      if (mapped !== undefined && mapped !== fromHeader) return this.#deny(deny("caller_not_allowed"), requestId, fromHeader, principal);
      id = fromHeader;
    } else if (fromHeader.code === "missing" && mapped !== undefined) {
      id = mapped;
    } else {
      return this.#deny(denialOf(fromHeader), requestId, undefined, principal);
    }
    return { id, requestId, principal, identity, mapped, method: input.method, path: input.path, rawQuery: input.rawQuery, host: input.host };
  }

  /** The caller may act for the tenant, and the route's division filter is planned within its divisions. */
  #plan(claim: Claim, tenant: Tenant, policy: ActivePolicy): Plan | Denial {
    // Re-checked on every call, gateway token or not: a binding removed by a reload takes effect at once.
    const callerDenied = bindCaller(tenant, claim.principal, claim.mapped, policy.callers);
    if (callerDenied) return denialOf(callerDenied);
    // Where Envoy routes by Host (the Istio egress gateway), the caller's Host must be the tenant's own API host.
    if (policy.egress.verifyHost && claim.host !== tenant.apiHost) return deny("upstream_mismatch");
    const routing = policy.routes[tenant.profile.id];
    const route = routing.table.match(claim.method, claim.path);
    const keys = routing.divisionKeys;
    // A profile without a division parameter: nothing to plan, the query passes (denied routes still apply).
    const plain = keys === undefined || !mayNameDivisions(claim.rawQuery, keys);
    if (plain && route.kind === "uncatalogued") return policy.passThrough;
    if (plain && route.kind === "division") {
      // Keyed by parameter name (a handful) then by the divisions array (one small entry per tenant, no Map each).
      let byDivisions = policy.plainPlans.get(route.param);
      if (byDivisions === undefined) policy.plainPlans.set(route.param, (byDivisions = new WeakMap()));
      let plan = byDivisions.get(tenant.divisions);
      if (plan === undefined) {
        const query = planDivision(route, "", tenant.divisions, keys);
        if (isDenial(query)) return query;
        plan = planFor(query, policy.generation);
        byDivisions.set(tenant.divisions, plan);
      }
      return plan;
    }
    const known = keys === undefined ? undefined : policy.queryPlans.get(keys, route, claim.rawQuery, tenant.divisions);
    if (known !== undefined) return known;
    const query = planDivision(route, claim.rawQuery, tenant.divisions, keys);
    const plan = isDenial(query) ? query : planFor(query, policy.generation);
    if (keys !== undefined) policy.queryPlans.set(keys, route, claim.rawQuery, tenant.divisions, plan);
    return plan;
  }

  /**
   * The request would be allowed: it spends one request of the tenant's budget (from this replica's lease, or after
   * asking the store for one), or is denied with the seconds left in the window. Only requests that would otherwise
   * be allowed count, so denials never use up a tenant's budget.
   */
  #allow(claim: Claim, tenant: Tenant, entry: TokenEntry, cache: "hit" | "miss", plan: Plan, policy: ActivePolicy, deadline: Deadline): CheckOutcome | Promise<CheckOutcome> {
    // Authorino's rule: if Envoy has already given up on us, say so rather than answer late.
    if (deadline.expired) return this.#deny(deny("deadline_exceeded"), claim.requestId, claim.id, claim.principal, true);
    const budget = this.deps.budget;
    if (budget === undefined) return this.#ok(claim, tenant, entry, cache, plan, policy);
    const spent = budget.take(tenant, claim.identity);
    if (spent === SPENT) return this.#ok(claim, tenant, entry, cache, plan, policy);
    if (!(spent instanceof Promise)) return this.#spent(spent, claim, tenant, entry, cache, plan, policy, deadline);
    return spent.then((v) => this.#spent(v, claim, tenant, entry, cache, plan, policy, deadline));
  }

  #spent(v: BudgetVerdict, claim: Claim, tenant: Tenant, entry: TokenEntry, cache: "hit" | "miss", plan: Plan, policy: ActivePolicy, deadline: Deadline): CheckOutcome {
    if (isBudgetError(v)) return this.#deny(denialOf(v), claim.requestId, claim.id, claim.principal, true);
    if (deadline.expired) return this.#deny(deny("deadline_exceeded"), claim.requestId, claim.id, claim.principal, true);
    return this.#ok(claim, tenant, entry, cache, plan, policy);
  }

  /** The OK answer, encoded once per token, policy generation and division plan, then reused. */
  #ok(claim: Claim, tenant: Tenant, entry: TokenEntry, cache: "hit" | "miss", plan: Plan, policy: ActivePolicy): CheckOutcome {
    // A token belongs to one tenant and so to one environment: the cache key needs no environment of its own.
    let bytes = entry.encoded(plan.key);
    if (!bytes) {
      bytes = encode(
        buildOkResponse({
          authorization: entry.authorization,
          query: plan.query,
          headersToRemove: policy.headersToRemove,
          upstream: { header: policy.egress.upstreamHeader, environment: tenant.environment },
          tenant: tenant.id,
        }),
      );
      entry.remember(plan.key, bytes);
    }
    return { bytes, decision: "allow", tenant: claim.id, tenantKnown: true, tokenCache: cache, requestId: claim.requestId, mtls: claim.principal !== "" };
  }

  /**
   * A gateway login: the Basic client id names the tenant, the caller's identity must be bound to it exactly as
   * for an API call (bindCaller), and the answer is a gateway token bound to (tenant, identity) that lives no
   * longer than the tenant's cached Genesys token. The Genesys token comes from the cache (or is minted once, as
   * for an API call): logins never cause token requests of their own.
   */
  #login(input: CheckInput, policy: ActivePolicy, deadline: Deadline): CheckOutcome | Promise<CheckOutcome> {
    const { requestId, sourcePrincipal: principal } = input;
    const gateway = this.deps.gateway;
    if (gateway === undefined) return this.#deny(deny("login_disabled"), requestId, undefined, principal);
    const id = readLogin(input, policy.tenantId);
    if (isDenial(id)) return this.#deny(id, requestId, undefined, principal);
    const identity = callerIdentity(principal, policy.callers);
    const mapped = identity === "" ? undefined : policy.callers.principalTenants.get(identity);
    // As for an API call with a tenant header: a caller mapped to a tenant (principalTenants) acts for that one only.
    if (mapped !== undefined && mapped !== id) return this.#deny(deny("login_refused"), requestId, id, principal);
    return this.#lookup({ id, identity, mapped, principal, requestId, gateway }, this.#loginSteps, policy, deadline);
  }

  /** A login: the same caller binding as an API call, then a gateway token instead of an OK answer. */
  readonly #loginSteps: Steps<Login, true> = {
    column: "login",
    bind: (login, tenant, policy) => {
      const refused = bindCaller(tenant, login.principal, login.mapped, policy.callers);
      return refused ? denialOf(refused, "login") : true;
    },
    finish: (login, _tenant, _bound, entry, cache, _policy, deadline) =>
      deadline.expired ? this.#deny(deny("deadline_exceeded"), login.requestId, login.id, login.principal, true) : this.#issue(login, entry, cache),
  };

  /** The login's answer: a gateway token living min(ttlSeconds, what is left of the tenant's Genesys token). */
  #issue(login: Login, entry: TokenEntry, cache: "hit" | "miss"): CheckOutcome {
    const gateway = login.gateway;
    const now = this.#now();
    const lifetime = Math.max(1, Math.min(gateway.ttlSeconds, Math.floor((entry.expiresAtMs - now) / 1000)));
    const token = gateway.mint(login.id, login.identity, lifetime, now);
    return {
      bytes: encode(buildLoginResponse(token, lifetime, login.id)),
      decision: "login",
      tenant: login.id,
      tenantKnown: true,
      tokenCache: cache,
      requestId: login.requestId,
      mtls: login.principal !== "",
    };
  }

  /** A denial outside the pipeline (shutting down, a failure in the transport). */
  denial(reason: DenyReason): CheckOutcome {
    return this.#deny(deny(reason), "");
  }

  #deny(denial: Denial, requestId: string, tenant?: string, principal?: string, tenantKnown = false): CheckOutcome {
    // The caller is answered with the reason the table says for this mode; the outcome (log line, metrics)
    // keeps the real one.
    const answered = answeredAs(denial, this.#policy.callers.mode);
    // A denial without a Retry-After of its own is keyed by its reason alone: no string is built per check.
    const cacheKey = answered.retryAfterSeconds === undefined ? answered.reason : `${answered.reason}:${answered.retryAfterSeconds}`;
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

/** What every request that names a tenant carries through the decision path. */
interface Named {
  readonly id: string;
  readonly requestId: string;
  readonly principal: string;
}

/** How one kind of request finishes the shared decision path (#lookup). Built once per Authorizer. */
interface Steps<C extends Named, P> {
  /** Which column of the layer-error table (layer-errors.ts) answers a lower layer's failure. */
  readonly column: "api" | "login";
  /** Once the tenant is known: bind the caller (and plan the route); a denial ends the check. */
  bind(c: C, tenant: Tenant, policy: ActivePolicy): P | Denial;
  /** The tenant's token is at hand; a promise only when the request budget has to ask its store for a lease. */
  finish(c: C, tenant: Tenant, bound: P, entry: TokenEntry, cache: "hit" | "miss", policy: ActivePolicy, deadline: Deadline): CheckOutcome | Promise<CheckOutcome>;
}

/** A login whose client id has been read. */
interface Login extends Named {
  readonly identity: string;
  readonly mapped: string | undefined;
  readonly gateway: GatewayTokens;
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
    picker: checkRequestPicker(p.tenantId.header),
    plainPlans: new Map(),
    queryPlans: new PlanMemo(),
    passThrough: planFor(NO_QUERY_MUTATION, generation),
    generation,
  };
}

const AUTHORIZATION_WANTED = [`bearer ${GATEWAY_TOKEN_PREFIX}`, "basic "];

/**
 * The headers a check reads from the request bytes: the tenant header, x-request-id and authorization, the last only
 * when it can matter (a gateway token, or a login's Basic credentials). Also the bench's wire-reader floor's.
 */
export function checkRequestPicker(tenantHeader: string): HeaderPicker {
  return new HeaderPicker(checkedHeaders(tenantHeader), { authorization: AUTHORIZATION_WANTED });
}

function planFor(query: QueryMutation, generation: number): Plan {
  return { query, key: planKey(generation, query) };
}

function planKey(generation: number, q: QueryMutation): string {
  if (q.set.length === 0 && q.remove.length === 0) return String(generation);
  return `${generation}|${q.set.map((s) => `${s.key}=${s.value}`).join("&")}|${q.remove.join("&")}`;
}


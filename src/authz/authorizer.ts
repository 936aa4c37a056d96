/**
 * The one orchestrator: CheckRequest -> encoded CheckResponse. Only this function awaits; every step it
 * calls is pure or behind a port. It is total: whatever happens, it returns an answer, and anything
 * unexpected becomes a denial (internal_error), never an allow.
 */
import { CheckResponse, type CheckRequest } from "../gen/envoy/service/auth/v3/external_auth.js";
import type { Deadline } from "../util/deadline.js";
import { checkCaller, type CallerRules } from "../tenants/caller-binding.js";
import type { TenantRegistry } from "../tenants/registry.js";
import type { Tenant } from "../tenants/tenant.js";
import { readTenantId, type TenantIdRules } from "../tenants/tenant-id.js";
import type { TokenSource } from "../tokens/token-provider.js";
import { parseCheckRequest } from "./check-input.js";
import { DENY_REASONS, deny, isDenial, type Denial, type DenyReason } from "./deny-reasons.js";
import { planDivision, type QueryMutation } from "./division-plan.js";
import { buildDeniedResponse, buildOkResponse } from "./response.js";
import type { RouteTable } from "./route-table.js";

/** The parts of the config a reload may change; swapped whole. */
export interface AuthzPolicy {
  readonly tenantId: TenantIdRules;
  readonly callers: CallerRules;
  readonly stripTenantHeader: boolean;
  readonly routes: RouteTable;
}

export interface AuthorizerDeps extends AuthzPolicy {
  readonly registry: TenantRegistry;
  readonly tokens: TokenSource;
}

interface ActivePolicy extends AuthzPolicy {
  readonly headersToRemove: readonly string[];
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

  async check(request: CheckRequest, deadline: Deadline): Promise<CheckOutcome> {
    let requestId = "";
    let tenantId: string | undefined;
    const policy = this.#policy;
    try {
      const input = parseCheckRequest(request);
      if (isDenial(input)) return this.#deny(input, requestId);
      requestId = input.requestId;

      const principal = input.sourcePrincipal;
      const mapped = principal === "" ? undefined : policy.callers.principalTenants.get(principal);
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
      tenantId = id;

      const tenant: Tenant | Denial = this.deps.registry.peek(id) ?? (await this.deps.registry.resolve(id, deadline.signal));
      if (isDenial(tenant)) return this.#deny(afterIo(tenant, deadline), requestId, id, principal);

      // A principal mapped to this tenant is bound by that mapping; anyone else by the tenant's caller rules.
      const callerDenied = mapped === id ? undefined : checkCaller(tenant, principal, policy.callers.mode);
      if (callerDenied) return this.#deny(callerDenied, requestId, id, principal, true);

      const query = planDivision(policy.routes.match(input.method, input.path), input.rawQuery, tenant.divisions);
      if (isDenial(query)) return this.#deny(query, requestId, id, principal, true);

      // Cache hit: no await, no timer. Only a miss waits (and so creates the deadline's signal).
      const hit = this.deps.tokens.peek(tenant);
      const lookup = hit ? { entry: hit, cache: "hit" as const } : await this.deps.tokens.get(tenant, deadline.signal);
      if (isDenial(lookup)) return this.#deny(afterIo(lookup, deadline), requestId, id, principal, true);

      // Authorino's rule: if Envoy has already given up on us, say so rather than answer late.
      if (deadline.expired) return this.#deny(deny("deadline_exceeded"), requestId, id, principal, true);

      const key = planKey(policy.generation, query);
      let bytes = lookup.entry.encoded(key);
      if (!bytes) {
        bytes = encode(buildOkResponse({ authorization: lookup.entry.authorization, query, headersToRemove: policy.headersToRemove }));
        lookup.entry.remember(key, bytes);
      }
      return { bytes, decision: "allow", tenant: id, tenantKnown: true, tokenCache: lookup.cache, requestId, mtls: principal !== "" };
    } catch {
      return this.#deny(deny("internal_error"), requestId, tenantId);
    }
  }

  /** A denial outside the pipeline (shutting down, a failure in the transport). */
  denial(reason: DenyReason): CheckOutcome {
    return this.#deny(deny(reason), "");
  }

  #deny(denial: Denial, requestId: string, tenant?: string, principal?: string, tenantKnown = false): CheckOutcome {
    const cacheKey = `${denial.reason}:${denial.retryAfterSeconds ?? ""}`;
    let bytes = this.#denied.get(cacheKey);
    if (!bytes) {
      bytes = encode(buildDeniedResponse(denial));
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
    headersToRemove: p.stripTenantHeader ? [p.tenantId.header] : [],
    generation,
  };
}

function planKey(generation: number, q: QueryMutation): string {
  if (q.set.length === 0 && q.remove.length === 0) return String(generation);
  return `${generation}|${q.set.map((s) => `${s.key}=${s.value}`).join("&")}|${q.remove.join("&")}`;
}

export function encode(response: CheckResponse): Buffer {
  const u8 = CheckResponse.encode(response).finish();
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/**
 * The one orchestrator: CheckRequest -> encoded CheckResponse. Only this function awaits; every step it
 * calls is pure or behind a port. It is total: whatever happens, it returns an answer, and anything
 * unexpected becomes a denial (internal_error), never an allow.
 */
import { CheckResponse, type CheckRequest } from "../gen/envoy/service/auth/v3/external_auth.js";
import { checkCaller } from "../tenants/caller-binding.js";
import type { TenantRegistry } from "../tenants/registry.js";
import type { Tenant } from "../tenants/tenant.js";
import { readTenantId, type TenantIdRules } from "../tenants/tenant-id.js";
import type { TokenSource } from "../tokens/token-provider.js";
import { parseCheckRequest } from "./check-input.js";
import { deny, isDenial, type Denial, type DenyReason } from "./deny-reasons.js";
import { planDivision, type QueryMutation } from "./division-plan.js";
import { buildDeniedResponse, buildOkResponse } from "./response.js";
import type { RouteTable } from "./route-table.js";

/** The parts of the config a reload may change; swapped whole. */
export interface AuthzPolicy {
  readonly tenantId: TenantIdRules;
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

  async check(request: CheckRequest, signal: AbortSignal): Promise<CheckOutcome> {
    let requestId = "";
    let tenantId: string | undefined;
    const policy = this.#policy;
    try {
      const input = parseCheckRequest(request);
      if (isDenial(input)) return this.#deny(input, requestId);
      requestId = input.requestId;

      const id = readTenantId(input.headers, policy.tenantId);
      if (isDenial(id)) return this.#deny(id, requestId);
      tenantId = id;

      const tenant: Tenant | Denial = this.deps.registry.peek(id) ?? (await this.deps.registry.resolve(id, signal));
      if (isDenial(tenant)) return this.#deny(tenant, requestId, id);

      const callerDenied = checkCaller(tenant, input.sourcePrincipal);
      if (callerDenied) return this.#deny(callerDenied, requestId, id);

      const query = planDivision(policy.routes.match(input.method, input.path), input.rawQuery, tenant.divisions);
      if (isDenial(query)) return this.#deny(query, requestId, id);

      const lookup = await this.deps.tokens.get(tenant, signal);
      if (isDenial(lookup)) return this.#deny(lookup, requestId, id);

      // Authorino's rule: if Envoy has already given up on us, say so rather than answer late.
      if (signal.aborted) return this.#deny(deny("deadline_exceeded"), requestId, id);

      const key = planKey(policy.generation, query);
      let bytes = lookup.entry.encoded.get(key);
      if (!bytes) {
        bytes = encode(buildOkResponse({ authorization: lookup.entry.authorization, query, headersToRemove: policy.headersToRemove }));
        this.deps.tokens.remember(lookup.entry, key, bytes);
      }
      return { bytes, decision: "allow", tenant: id, tokenCache: lookup.cache, requestId };
    } catch {
      return this.#deny(deny("internal_error"), requestId, tenantId);
    }
  }

  /** A denial outside the pipeline (shutting down, a failure in the transport). */
  denial(reason: DenyReason): CheckOutcome {
    return this.#deny(deny(reason), "");
  }

  #deny(denial: Denial, requestId: string, tenant?: string): CheckOutcome {
    const cacheKey = `${denial.reason}:${denial.retryAfterSeconds ?? ""}`;
    let bytes = this.#denied.get(cacheKey);
    if (!bytes) {
      bytes = encode(buildDeniedResponse(denial));
      if (this.#denied.size < 256) this.#denied.set(cacheKey, bytes);
    }
    return tenant === undefined
      ? { bytes, decision: "deny", reason: denial.reason, requestId }
      : { bytes, decision: "deny", reason: denial.reason, tenant, requestId };
  }
}

function activate(p: AuthzPolicy, generation: number): ActivePolicy {
  return {
    tenantId: p.tenantId,
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

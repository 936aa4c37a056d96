/**
 * Who may act for a tenant. Pure. A tenant header is a claim any caller can make; under mTLS Envoy puts the
 * caller's identity in attributes.source.principal (attribute_context.proto Peer.principal), e.g.
 * spiffe://cluster.local/ns/acme/sa/etl under Istio.
 *
 * - The caller's identity is that principal; in mode "local" a check without one comes from `localIdentity`
 *   when configured (the pod scopegate sits beside), else from no one in particular.
 * - mode "mesh": a check without a principal (plain-text hop) is denied, and so is every tenant without a
 *   binding: in a shared deployment a tenant nobody is bound to must not be claimable by everybody.
 * - mode "local": a configured tenant without a binding accepts the local caller (the per-pod config is its
 *   binding); a discovered one does not (a Vault record without a binding must not be claimable by whatever
 *   reaches the socket).
 * - a bound tenant accepts only an identity matching allowedPrincipals (exact, or a prefix ending in "/*"
 *   that matches exactly one more path segment) or a Kubernetes SPIFFE id
 *   spiffe://<trustDomain>/ns/<ns>/sa/<sa> of the configured trust domain with <ns> in allowedNamespaces.
 */
import type { Tenant } from "./tenant.js";

/**
 * The one way binding refuses a caller, as this layer's value (the authorizer maps it to a deny reason for an API
 * call and for a login: src/authz/layer-errors.ts). Frozen and shared: a refusal allocates nothing.
 */
export const CALLER_BINDING_ERRORS = {
  /** The caller's identity is not bound to the tenant (or there is no identity where one is required). */
  not_allowed: Object.freeze({ kind: "caller_binding", code: "not_allowed" }),
} as const;

export type CallerBindingErrorCode = keyof typeof CALLER_BINDING_ERRORS;
export type CallerBindingError = (typeof CALLER_BINDING_ERRORS)[CallerBindingErrorCode];

const NOT_ALLOWED = CALLER_BINDING_ERRORS.not_allowed;

export type CallerMode = "mesh" | "local";

export interface CallerRules {
  readonly mode: CallerMode;
  /** principal -> tenant id, for callers that send no tenant header. */
  readonly principalTenants: ReadonlyMap<string, string>;
  /** SPIFFE trust domain that allowedNamespaces apply to (config callers.trustDomain). */
  readonly trustDomain: string;
  /** Mode local: the identity of a check without a principal (config callers.localIdentity). */
  readonly localIdentity?: string | undefined;
}

/** The identity binding rules apply to: the mTLS principal, else (mode local) the configured local identity. */
export function callerIdentity(principal: string, rules: CallerRules): string {
  if (principal !== "" || rules.mode !== "local") return principal;
  return rules.localIdentity ?? "";
}

/**
 * The one binding check for a caller acting for a tenant, for API calls and gateway logins alike (so the two can
 * never disagree): a caller whose identity callers.principalTenants maps to this tenant is bound by that mapping;
 * anyone else by the tenant's own rules (checkCaller). `mapped` is that mapping's tenant for the caller, if any.
 */
export function bindCaller(tenant: Tenant, principal: string, mapped: string | undefined, rules: CallerRules): CallerBindingError | undefined {
  return mapped === tenant.id ? undefined : checkCaller(tenant, principal, rules);
}

export function checkCaller(tenant: Tenant, principal: string, rules: CallerRules): CallerBindingError | undefined {
  if (principal === "" && rules.mode === "mesh") return NOT_ALLOWED;
  if (isUnbound(tenant)) {
    return rules.mode === "local" && tenant.source === "config" ? undefined : NOT_ALLOWED;
  }
  const identity = callerIdentity(principal, rules);
  if (identity === "") return NOT_ALLOWED;
  for (const allowed of tenant.allowedPrincipals) if (principalMatches(allowed, identity)) return undefined;
  const ns = spiffeNamespace(identity, rules.trustDomain);
  if (ns !== undefined && tenant.allowedNamespaces.includes(ns)) return undefined;
  return NOT_ALLOWED;
}

export function isUnbound(tenant: Pick<Tenant, "allowedPrincipals" | "allowedNamespaces">): boolean {
  return tenant.allowedPrincipals.length === 0 && tenant.allowedNamespaces.length === 0;
}

export function principalMatches(pattern: string, principal: string): boolean {
  if (!pattern.endsWith("/*")) return pattern === principal;
  const prefix = pattern.slice(0, -1); // keeps the trailing "/"
  if (!principal.startsWith(prefix)) return false;
  const rest = principal.slice(prefix.length);
  return rest.length > 0 && !rest.includes("/");
}

/**
 * The namespace of a Kubernetes SPIFFE id of this trust domain: spiffe://<trustDomain>/ns/<ns>/sa/<sa>
 * (Istio's identity format). An id of another trust domain names no namespace of ours.
 */
export function spiffeNamespace(principal: string, trustDomain: string): string | undefined {
  const prefix = `spiffe://${trustDomain}/ns/`;
  if (!principal.startsWith(prefix)) return undefined;
  const m = /^([^/]+)\/sa\/[^/]+$/.exec(principal.slice(prefix.length));
  return m?.[1];
}

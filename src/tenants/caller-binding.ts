/**
 * Who may act for a tenant. Pure. A tenant header is a claim any pod can make; under mTLS Envoy puts the
 * caller's identity in attributes.source.principal (attribute_context.proto Peer.principal), e.g.
 * spiffe://cluster.local/ns/acme/sa/etl under Istio.
 *
 * - mode "mesh": a check without a principal (plain-text hop) is denied;
 *   mode "local": scopegate serves one workload over a socket/loopback, so a missing principal is accepted.
 * - a tenant with allowedPrincipals / allowedNamespaces accepts only matching principals (in either mode);
 *   with neither, any caller that passed the mode rule.
 * - principal patterns: exact, or a prefix ending in "/*" that matches exactly one more path segment.
 */
import { deny, type Denial } from "../authz/deny-reasons.js";
import type { Tenant } from "./tenant.js";

export type CallerMode = "mesh" | "local";

export interface CallerRules {
  readonly mode: CallerMode;
  /** principal -> tenant id, for callers that send no tenant header. */
  readonly principalTenants: ReadonlyMap<string, string>;
}

export function checkCaller(tenant: Tenant, principal: string, mode: CallerMode): Denial | undefined {
  if (principal === "") {
    if (mode === "mesh") return deny("caller_not_allowed");
    return tenant.allowedPrincipals.length === 0 && tenant.allowedNamespaces.length === 0 ? undefined : deny("caller_not_allowed");
  }
  if (tenant.allowedPrincipals.length === 0 && tenant.allowedNamespaces.length === 0) return undefined;
  for (const allowed of tenant.allowedPrincipals) if (principalMatches(allowed, principal)) return undefined;
  const ns = spiffeNamespace(principal);
  if (ns !== undefined && tenant.allowedNamespaces.includes(ns)) return undefined;
  return deny("caller_not_allowed");
}

export function principalMatches(pattern: string, principal: string): boolean {
  if (!pattern.endsWith("/*")) return pattern === principal;
  const prefix = pattern.slice(0, -1); // keeps the trailing "/"
  if (!principal.startsWith(prefix)) return false;
  const rest = principal.slice(prefix.length);
  return rest.length > 0 && !rest.includes("/");
}

/** The namespace of a Kubernetes SPIFFE id: spiffe://<trust-domain>/ns/<ns>/sa/<sa>. */
export function spiffeNamespace(principal: string): string | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/[^/]+$/.exec(principal);
  return m?.[1];
}

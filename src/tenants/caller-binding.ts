/**
 * Who may act for a tenant. Pure. A tenant header is a claim any pod can make; under mTLS Envoy puts the
 * caller's SPIFFE id in attributes.source.principal (attribute_context.proto Peer.principal).
 * Patterns: an exact principal, or a prefix ending in "/*" (e.g. spiffe://cluster.local/ns/acme/sa/*).
 */
import { deny, type Denial } from "../authz/deny-reasons.js";
import type { Tenant } from "./tenant.js";

export function checkCaller(tenant: Tenant, principal: string): Denial | undefined {
  if (tenant.allowedPrincipals.length === 0) return undefined;
  if (principal === "") return deny("caller_not_allowed");
  for (const allowed of tenant.allowedPrincipals) {
    if (allowed === principal) return undefined;
    if (allowed.endsWith("/*") && principal.startsWith(allowed.slice(0, -1)) && !principal.slice(allowed.length - 1).includes("/")) {
      return undefined;
    }
  }
  return deny("caller_not_allowed");
}

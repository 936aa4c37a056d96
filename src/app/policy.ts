/** The authorizer's policy from a config: tenant header rules, caller binding, egress checks, route table. Pure. */
import type { AuthzPolicy } from "../authz/authorizer.js";
import { GENESYS_DENIED_ROUTES, GENESYS_DIVISION_ROUTES } from "../authz/genesys-catalog.js";
import { buildRouteTable, type RouteRule } from "../authz/route-table.js";
import type { Config } from "../config/index.js";
import { compileTenantIdPattern } from "../tenants/tenant-id.js";

function routeRulesFrom(config: Config): { rules: RouteRule[]; denied: { method: string; path: string }[] } {
  const base: RouteRule[] =
    config.routes.rules ?? GENESYS_DIVISION_ROUTES.map(([method, path, param]) => ({ method, path, param }));
  const denied = config.routes.denied ?? GENESYS_DENIED_ROUTES.map(([method, path]) => ({ method, path }));
  return { rules: [...base, ...config.routes.extraRules], denied: [...denied] };
}

export function policyFrom(config: Config): AuthzPolicy {
  const { rules, denied } = routeRulesFrom(config);
  return {
    tenantId: { header: config.tenantHeader, pattern: compileTenantIdPattern(config.tenantIdPattern) },
    callers: {
      mode: config.callers.mode,
      principalTenants: new Map(Object.entries(config.callers.principalTenants)),
      trustDomain: config.callers.trustDomain,
      localIdentity: config.callers.localIdentity,
    },
    stripTenantHeader: config.stripTenantHeader,
    egress: config.egress,
    routes: buildRouteTable(rules, denied, { allowListOnly: config.routes.mode === "allow-list" }),
  };
}

/** The authorizer's policy from a config: tenant header rules, caller binding, egress checks, route tables. Pure. */
import type { AuthzPolicy } from "../authz/authorizer.js";
import { buildProfileRoutes } from "../authz/profile-routes.js";
import type { Config } from "../config/index.js";
import { compileTenantIdPattern } from "../tenants/tenant-id.js";

export function policyFrom(config: Config): AuthzPolicy {
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
    // Config `routes` is the genesys-cloud profile's; other profiles keep their built-in tables.
    routes: buildProfileRoutes({ "genesys-cloud": { ...config.routes, allowListOnly: config.routes.mode === "allow-list" } }),
  };
}

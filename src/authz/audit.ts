/**
 * The audit record of scopegate's answers, for the proxy's access log. Pure.
 *
 * It travels as CheckResponse.dynamic_metadata, which Envoy's ext_authz filter keeps under the namespace
 * `envoy.filters.http.ext_authz` for OK and denied answers alike
 * (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/ext_authz_filter, "Dynamic
 * Metadata"), read in an access log as %DYNAMIC_METADATA(envoy.filters.http.ext_authz:tenant)%. Ids and codes
 * only, never a token. An allow's record is part of the bytes encoded once per token and division plan, so it
 * costs nothing per check; with it the proxy's access log says which tenant's token went on each request and
 * which divisions scopegate set, which is why scopegate's own decision log keeps only denials by default
 * (config logging.decisions).
 */
import type { QueryMutation } from "./division-plan.js";

export const AUDIT_NAMESPACE = "envoy.filters.http.ext_authz";

export type AuditField = "decision" | "tenant" | "divisions";

export function auditFields(decision: "allow" | "login", tenant: string, query?: QueryMutation): Partial<Record<AuditField, string>> {
  // The values scopegate set on the request's query (the division filter), as sent: the audit of the scope.
  if (query !== undefined && query.set.length > 0) return { decision, tenant, divisions: query.set.map((p) => p.value).join(",") };
  return { decision, tenant };
}

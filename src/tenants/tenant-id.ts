/** Reading the tenant id from the request: pure, and strict before any lookup happens. */
import { deny, type Denial } from "../authz/deny-reasons.js";

export interface TenantIdRules {
  readonly header: string;
  readonly pattern: RegExp;
}

/** Longer than any id the pattern could allow is refused before the regex runs (64 KB headers happen). */
const MAX_TENANT_ID_LENGTH = 256;

export function readTenantId(headers: ReadonlyMap<string, string>, rules: TenantIdRules): string | Denial {
  const raw = headers.get(rules.header);
  if (raw === undefined) return deny("tenant_missing");
  const value = raw.trim();
  if (value === "") return deny("tenant_missing");
  // Envoy joins repeated headers with ',' (attribute_context.proto): two tenant claims are never merged.
  if (value.includes(",")) return deny("tenant_ambiguous");
  if (value.length > MAX_TENANT_ID_LENGTH || !rules.pattern.test(value)) return deny("tenant_invalid");
  return value;
}

/** Anchors a configured pattern so a partial match can never pass. */
export function compileTenantIdPattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, "u");
}

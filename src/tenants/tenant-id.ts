/** Reading the tenant id from the request: pure, and strict before any lookup happens. */

/**
 * Why a tenant id could not be read, as values of this layer (the authorizer maps them to deny reasons in
 * src/authz/layer-errors.ts). One frozen object per code: a refused header allocates nothing.
 */
export const TENANT_ID_ERRORS = {
  /** No tenant header, or an empty one. */
  missing: Object.freeze({ kind: "tenant_id", code: "missing" }),
  /** The header was sent more than once. */
  ambiguous: Object.freeze({ kind: "tenant_id", code: "ambiguous" }),
  /** Too long, or not matching the configured pattern. */
  invalid: Object.freeze({ kind: "tenant_id", code: "invalid" }),
} as const;

export type TenantIdErrorCode = keyof typeof TENANT_ID_ERRORS;
export type TenantIdError = (typeof TENANT_ID_ERRORS)[TenantIdErrorCode];

export interface TenantIdRules {
  readonly header: string;
  readonly pattern: RegExp;
}

/** Longer than any id the pattern could allow is refused before the regex runs (64 KB headers happen). */
const MAX_TENANT_ID_LENGTH = 256;

export function readTenantId(headers: ReadonlyMap<string, string>, rules: TenantIdRules): string | TenantIdError {
  const raw = headers.get(rules.header);
  if (raw === undefined) return TENANT_ID_ERRORS.missing;
  const value = raw.trim();
  if (value === "") return TENANT_ID_ERRORS.missing;
  // Envoy joins repeated headers with ',' (attribute_context.proto): two tenant claims are never merged.
  if (value.includes(",")) return TENANT_ID_ERRORS.ambiguous;
  return checkTenantId(value, rules);
}

/** A tenant id from anywhere (a header, a login's client id): within the length bound and matching the pattern. */
export function checkTenantId(value: string, rules: Pick<TenantIdRules, "pattern">): string | TenantIdError {
  return value.length > MAX_TENANT_ID_LENGTH || !rules.pattern.test(value) ? TENANT_ID_ERRORS.invalid : value;
}

export function isTenantIdError(v: string | TenantIdError): v is TenantIdError {
  return typeof v !== "string";
}

/** Anchors a configured pattern so a partial match can never pass. */
export function compileTenantIdPattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, "u");
}

/**
 * What to do with the division filter of one request. Pure.
 *
 * The token is the real boundary (reference genesys-cloud.md §3.1); the query parameter is a filter that
 * keeps a tenant's list calls to its own divisions. Rules:
 * - any caller-supplied division key, in any spelling (divisionId / divisionIds, other letter case,
 *   percent-encoded), is removed;
 * - on a catalogued route the tenant's divisions are set under the route's parameter name, comma-joined
 *   (what the official SDKs send, §3.2), each value percent-encoded (Envoy inserts values raw, §2.4);
 * - a caller asking for a division outside the tenant's set is denied, never widened; asking for a
 *   subset narrows the filter to that subset.
 */
import { deny, type Denial } from "./deny-reasons.js";
import type { RouteMatch } from "./route-table.js";

export interface QueryMutation {
  readonly set: readonly { readonly key: string; readonly value: string }[];
  readonly remove: readonly string[];
}

export const NO_QUERY_MUTATION: QueryMutation = Object.freeze({ set: [], remove: [] });

const DIVISION_KEYS = new Set(["divisionid", "divisionids"]);

export function planDivision(
  route: RouteMatch,
  rawQuery: string,
  tenantDivisions: readonly string[],
): QueryMutation | Denial {
  if (route.kind === "forbidden") return deny("route_forbidden");
  const supplied = mayNameDivisions(rawQuery) ? readDivisionParams(rawQuery) : undefined;
  if (supplied === "malformed") return deny("division_malformed");
  if (route.kind === "uncatalogued") {
    return supplied && supplied.keys.length > 0 ? { set: [], remove: supplied.keys } : NO_QUERY_MUTATION;
  }
  let divisions: readonly string[] = tenantDivisions;
  if (supplied && supplied.values.length > 0) {
    for (const v of supplied.values) if (!tenantDivisions.includes(v)) return deny("division_forbidden");
    divisions = tenantDivisions.filter((d) => supplied.values.includes(d));
  }
  const remove = supplied ? supplied.keys.filter((k) => k !== route.param) : [];
  return {
    set: [{ key: route.param, value: divisions.map(encodeURIComponent).join(",") }],
    remove,
  };
}

/**
 * Whether a raw query string could carry a division key in any spelling the parser below accepts. A key can
 * only be `divisionId`/`divisionIds` in some letter case, percent-encoded (which needs '%'), or padded with
 * whitespace ('+' or %20 around the letters, which still leaves "division" or a '%' in the raw text). A query
 * with neither is planned like an empty one, without being parsed.
 */
export function mayNameDivisions(rawQuery: string): boolean {
  return rawQuery !== "" && /division|%/i.test(rawQuery);
}

interface SuppliedDivisions {
  /** The raw keys exactly as they appear in the query, for query_parameters_to_remove. */
  readonly keys: string[];
  /** Decoded, non-empty values, split on commas. */
  readonly values: string[];
}

export function readDivisionParams(rawQuery: string): SuppliedDivisions | "malformed" {
  const keys: string[] = [];
  const values: string[] = [];
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const key = safeDecode(rawKey);
    if (key === undefined) {
      // An undecodable key might be a disguised division key: refuse rather than guess.
      if (/division/i.test(rawKey)) return "malformed";
      continue;
    }
    if (!DIVISION_KEYS.has(key.trim().toLowerCase())) continue;
    if (!keys.includes(rawKey)) keys.push(rawKey);
    const rawValue = eq === -1 ? "" : pair.slice(eq + 1);
    const decoded = safeDecode(rawValue);
    if (decoded === undefined) return "malformed";
    for (const part of decoded.split(",")) {
      const v = part.trim();
      if (v !== "" && !values.includes(v)) values.push(v);
    }
  }
  return { keys, values };
}

function safeDecode(s: string): string | undefined {
  if (!s.includes("%") && !s.includes("+")) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

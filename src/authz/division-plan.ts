/**
 * What to do with the division filter of one request. Pure.
 *
 * The token is the real boundary (for Genesys Cloud: docs/genesys-facts.md, "Grants and divisions"); the query
 * parameter is a filter that keeps a tenant's list calls to its own divisions. Which query keys carry it is the
 * profile's knowledge (Profile.divisionKeys, e.g. Genesys Cloud's `divisionId` / `divisionIds`); a profile
 * without a division parameter (NICE CXone) gets no plan at all: its query passes unchanged. Rules:
 * - any caller-supplied division key, in any spelling, is removed: a key is a division key when it normalises
 *   to one of the profile's keys (isDivisionKey: percent-decoding to a fixed point, so double encoding
 *   counts; '+' as space; Unicode compatibility folding; letter case; trailing brackets such as
 *   `divisionId[]` or `divisionIds[0]`; and every character that is not a letter or digit, so `division.id`,
 *   `division_id`, `division-id` and ` divisionId ` count too). A server-side framework may read any of these
 *   as the same parameter; scopegate cannot know which, so it treats them all as the division filter;
 * - on a catalogued route the tenant's divisions are set under the route's parameter name, comma-joined
 *   (what the official Genesys SDKs send, docs/genesys-facts.md), each value percent-encoded (Envoy inserts
 *   values raw; with `validate_mutations` it rejects unencoded ones,
 *   https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/http/ext_authz/v3/ext_authz.proto);
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

/** A profile's division keys, compiled once per policy: the normalised names and a parse-free prefilter. */
export interface DivisionKeys {
  readonly names: ReadonlySet<string>;
  readonly mayName: RegExp;
}

const GAP = "[^a-z0-9]*";

/**
 * Names as the normaliser leaves them (compatibility-folded, lower case, letters and digits only). The prefilter
 * looks for the letters their names share at the start (Genesys: d-i-v-i-s-i-o-n-i-d) in order, in any case,
 * with nothing but non-alphanumerics between them, or for '%' or a non-ASCII character (which decoding or
 * folding could turn into them).
 */
export function compileDivisionKeys(keys: readonly string[]): DivisionKeys {
  const names = [...new Set(keys.map((k) => k.normalize("NFKC").toLowerCase().replace(NOT_ALPHANUMERIC, "")))];
  if (names.length === 0 || names.includes("")) throw new Error("division keys must name at least one key of letters or digits");
  const common = names.reduce((prefix, name) => {
    let i = 0;
    while (i < prefix.length && i < name.length && prefix[i] === name[i]) i++;
    return prefix.slice(0, i);
  });
  const spelt = (common === "" ? names : [common]).map((n) => [...n].join(GAP)).join("|");
  return { names: new Set(names), mayName: new RegExp(`[%\\u0080-\\uffff]|${spelt}`, "i") };
}

/** A plan for the route; `keys` undefined: the profile has no division parameter, so only denials apply. */
export function planDivision(
  route: RouteMatch,
  rawQuery: string,
  tenantDivisions: readonly string[],
  keys: DivisionKeys | undefined,
): QueryMutation | Denial {
  if (route.kind === "forbidden") return deny("route_forbidden");
  if (route.kind === "malformed") return deny("path_malformed");
  if (keys === undefined) return NO_QUERY_MUTATION;
  const supplied = mayNameDivisions(rawQuery, keys) ? readDivisionParams(rawQuery, keys) : undefined;
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
 * Whether a raw query string could carry a division key in any spelling the parser below accepts, without
 * parsing it. A key normalises to a division key (Genesys: `divisionid(s)`) only if its raw text has '%'
 * (encoding), a non-ASCII character (compatibility folding), or the key's letters in order, in any case, with
 * nothing but non-alphanumerics between them (`divisionId`, `DIVISIONID`, `d.i.v.i.s.i.o.n.i.d`). A query with
 * none of these is planned like an empty one. test/unit/routes.test.ts checks this against the parser.
 */
export function mayNameDivisions(rawQuery: string, keys: DivisionKeys): boolean {
  return rawQuery !== "" && keys.mayName.test(rawQuery);
}

/**
 * Whether a raw query key names the division filter (see the module comment for the spellings that count);
 * "undecodable" when its percent-encoding does not settle.
 */
export function isDivisionKey(rawKey: string, keys: DivisionKeys): boolean | "undecodable" {
  // The common key (`pageSize`, `divisionId`): ASCII letters and digits are their own decoded, folded form, and
  // carry no brackets or separators, so only case is left to normalise (test/unit/routes.test.ts checks this
  // shortcut against the full rule).
  if (PLAIN_KEY.test(rawKey)) return keys.names.has(rawKey.toLowerCase());
  return isNormalisedDivisionKey(rawKey, keys);
}

/** isDivisionKey without its shortcut: decode, fold, then compare. */
export function isNormalisedDivisionKey(rawKey: string, keys: DivisionKeys): boolean | "undecodable" {
  const decoded = decodeFully(rawKey);
  if (decoded === undefined) return "undecodable";
  const folded = decoded.normalize("NFKC").toLowerCase();
  // `divisionIds[0]` (trailing brackets dropped), and `division[id]` (brackets read as part of one key).
  return (
    keys.names.has(folded.replace(TRAILING_BRACKETS, "").replace(NOT_ALPHANUMERIC, "")) ||
    keys.names.has(folded.replace(NOT_ALPHANUMERIC, ""))
  );
}

const PLAIN_KEY = /^[A-Za-z0-9]*$/;
const TRAILING_BRACKETS = /(\[[^\]]*\])+$/u;
const NOT_ALPHANUMERIC = /[^a-z0-9]/gu;
/** Percent-decoding is repeated until nothing changes, at most this often (deeper nesting is refused). */
const MAX_DECODE_ROUNDS = 8;

interface SuppliedDivisions {
  /** The raw keys exactly as they appear in the query, for query_parameters_to_remove. */
  readonly keys: string[];
  /** Decoded, non-empty values, split on commas. */
  readonly values: string[];
}

export function readDivisionParams(rawQuery: string, divisionKeys: DivisionKeys): SuppliedDivisions | "malformed" {
  const keys: string[] = [];
  const values: string[] = [];
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    // Envoy splits the query on '&' only (so only such keys can be removed), but some servers also split on
    // ';' (HTML 4.01 B.2.2): a division key hidden after a ';' can be neither removed nor trusted.
    if (pair.includes(";")) {
      for (const piece of pair.split(";").slice(1)) {
        const pieceEq = piece.indexOf("=");
        if (isDivisionKey(pieceEq === -1 ? piece : piece.slice(0, pieceEq), divisionKeys) !== false) return "malformed";
      }
    }
    const division = isDivisionKey(rawKey, divisionKeys);
    // An undecodable key might be a disguised division key: refuse rather than guess.
    if (division === "undecodable") {
      if (mayNameDivisions(rawKey, divisionKeys)) return "malformed";
      continue;
    }
    if (!division) continue;
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

/**
 * '+' as space, then percent-decoding until the text stops changing (double encoding: `%2564` -> `d`). Each
 * round decodes every valid escape and leaves invalid ones (`%zz`) as they are, as a lenient server would.
 * Undefined when it still changes after MAX_DECODE_ROUNDS.
 */
function decodeFully(s: string): string | undefined {
  let current = s.replace(/\+/g, " ");
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    if (!current.includes("%")) return current;
    const next = current.replace(ESCAPE_RUN, decodeRun);
    if (next === current) return current;
    current = next;
  }
  return undefined;
}

const ESCAPE_RUN = /(?:%[0-9a-f]{2})+/giu;

function decodeRun(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    // Not UTF-8 as a whole: decode the escapes that stand alone as ASCII, keep the rest.
    return run.replace(/%([0-7][0-9a-f])/giu, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

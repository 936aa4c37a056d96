/**
 * Route rules: (method, path template) -> what to do with the division query parameter. Pure (the memo of
 * recent answers is an optimisation of a pure function).
 * Templates use `{name}` for one path segment, as in the Genesys API reference, and may end in `/**` for any
 * number of further segments (none included); method `*` means every method. A denial always wins over a
 * rule, however specific the rule.
 */
export type RouteMatch =
  | { readonly kind: "division"; readonly param: string }
  | { readonly kind: "forbidden" }
  | { readonly kind: "uncatalogued" }
  /** A path scopegate refuses to interpret on any route: see isAmbiguousPath. */
  | { readonly kind: "malformed" };

export interface RouteRule {
  readonly method: string;
  readonly path: string;
  readonly param: string;
}

export interface RouteTable {
  match(method: string, path: string): RouteMatch;
}

interface Compiled {
  readonly segments: readonly (string | null)[]; // null = any one segment
  /** The template ended in `/**`: any further segments match. */
  readonly prefix: boolean;
  readonly result: RouteMatch;
}

const UNCATALOGUED: RouteMatch = { kind: "uncatalogued" };
const FORBIDDEN: RouteMatch = { kind: "forbidden" };
const MALFORMED: RouteMatch = { kind: "malformed" };
const ANY_METHOD = "*";

/** Templates without wildcards by "METHOD /path", the others in order by method. */
class Templates {
  readonly exact = new Map<string, RouteMatch>();
  readonly templated = new Map<string, Compiled[]>();

  add(method: string, path: string, result: RouteMatch): void {
    const parts = splitPath(path);
    const prefix = parts.at(-1) === "**";
    if (prefix) parts.pop();
    const segments = parts.map((s) => (/^\{[^}]+\}$/.test(s) ? null : s.toLowerCase()));
    if (!prefix && segments.every((s) => s !== null)) {
      const key = `${method} /${segments.join("/")}`;
      if (!this.exact.has(key)) this.exact.set(key, result);
      return;
    }
    const list = this.templated.get(method) ?? [];
    list.push({ segments, prefix, result });
    this.templated.set(method, list);
  }

  find(method: string, segments: readonly string[]): RouteMatch | undefined {
    const joined = `/${segments.join("/")}`;
    for (const m of [method, ANY_METHOD]) {
      const hit = this.exact.get(`${m} ${joined}`);
      if (hit) return hit;
      for (const c of this.templated.get(m) ?? []) if (segmentsMatch(c, segments)) return c.result;
    }
    return undefined;
  }
}

/**
 * `allowListOnly`: a route that is neither catalogued nor denied is forbidden instead of passed through
 * (config routes.mode: allow-list).
 */
export function buildRouteTable(
  rules: readonly RouteRule[],
  denied: readonly { method: string; path: string }[],
  opts: { allowListOnly?: boolean } = {},
): RouteTable {
  const fallback = opts.allowListOnly ? FORBIDDEN : UNCATALOGUED;
  const denials = new Templates();
  const catalogue = new Templates();
  for (const d of denied) denials.add(d.method, d.path, FORBIDDEN);
  for (const r of rules) catalogue.add(r.method, r.path, { kind: "division", param: r.param });

  const lookup = (method: string, path: string): RouteMatch => {
    if (isAmbiguousPath(path)) return MALFORMED;
    const segments = splitPath(path).map(normaliseSegment);
    return denials.find(method, segments) ?? catalogue.find(method, segments) ?? fallback;
  };
  // A workload calls a few routes over and over: remember the answer per exact (method, path) string, so a
  // repeated call skips splitting, decoding and matching. A plain Map emptied when full: a memo of a pure function
  // needs no recency order (lru-cache's bookkeeping showed in a CPU profile), and paths with ids just pass through.
  // Keyed by method, then by the path string itself: no key is built per call.
  const recent = new Map<string, Map<string, RouteMatch>>();
  let remembered = 0;
  return {
    match(method, path) {
      let byPath = recent.get(method);
      let result = byPath?.get(path);
      if (result === undefined) {
        result = lookup(method, path);
        if (path.length <= MAX_MEMO_KEY_LENGTH) {
          if (remembered >= ROUTE_MEMO_SIZE) {
            recent.clear();
            remembered = 0;
            byPath = undefined;
          }
          // Methods are kept as they come (any token): a memo of many odd methods is emptied like one of many paths.
          if (byPath === undefined) recent.set(method, (byPath = new Map()));
          byPath.set(path, result);
          remembered++;
        }
      }
      return result;
    },
  };
}

const ROUTE_MEMO_SIZE = 2048;
/** Long paths (up to Envoy's 60 KB header limit) are matched every time rather than kept. */
const MAX_MEMO_KEY_LENGTH = 512;

function splitPath(path: string): string[] {
  return path.split("/").filter((s) => s.length > 0);
}

/**
 * Literal segments compare case-insensitively after percent-decoding to a fixed point, so `%71ueues` and
 * `%2571ueues` cannot dodge a rule.
 */
function normaliseSegment(segment: string): string {
  let current = segment;
  for (let round = 0; round < MAX_DECODE_ROUNDS && current.includes("%"); round++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      break;
    }
    if (next === current) break;
    current = next;
  }
  return current.toLowerCase();
}

const MAX_DECODE_ROUNDS = 8;

/**
 * A path whose meaning depends on who parses it is refused on every route, catalogued or not (scopegate
 * fronts only the Genesys Cloud Platform API, whose paths never need these):
 * - `;` path parameters (RFC 3986 section 3.3): servlet-style servers drop `;x=1` from a segment before
 *   routing, so `/api/v2/routing/queues/divisionviews/all;x=1` would reach a route the table denies;
 * - encoded `/` or `\\` (`%2F`, `%5C`), which some servers decode into a separator after routing;
 * - dot segments (`.`, `..`, RFC 3986 section 5.2.4), which a server may remove, changing the route.
 * Each in raw form and percent-encoded at any depth (`%3B`, `%253B`, ...).
 */
export function isAmbiguousPath(path: string): boolean {
  if (AMBIGUOUS_CHARACTER.test(path)) return true;
  for (const segment of path.split("/")) {
    if (segment.includes(".") || segment.includes("%")) {
      const s = normaliseSegment(segment);
      if (s === "." || s === ".." || /[;/\\]/u.test(s)) return true;
    }
  }
  return false;
}

const AMBIGUOUS_CHARACTER = /[;\\]|%(?:25)*(?:3b|2f|5c)/iu;

function segmentsMatch(template: Compiled, actual: readonly string[]): boolean {
  const t = template.segments;
  if (template.prefix ? actual.length < t.length : actual.length !== t.length) return false;
  for (let i = 0; i < t.length; i++) {
    const s = t[i];
    if (s !== null && s !== actual[i]) return false;
  }
  return true;
}

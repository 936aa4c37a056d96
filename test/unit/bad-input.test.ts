/**
 * Bad input, tried and counted: a table of hostile requests plus property-based fuzzing (fast-check) of
 * the parser and the whole decision path. Every case must end in an answer; only a well-formed request for
 * a known tenant, from an allowed caller, with divisions inside the tenant's set, may be allowed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeaderPicker, readCheckRequest } from "../../src/authz/check-request-wire.js";
import { DENY_REASON_CODES } from "../../src/authz/deny-reasons.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { authorizationServiceDefinition } from "../../src/server/check-service.js";
import { harness, TENANTS } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

export const FUZZ_RUNS = 2000;

const big = "x".repeat(64 * 1024);
const TABLE: [string, CheckRequest, string][] = [
  ["no attributes", { attributes: undefined }, "malformed_request"],
  ["no http", (() => { const r = checkRequest({}); r.attributes!.request!.http = undefined; return r; })(), "malformed_request"],
  ["empty method", (() => { const r = checkRequest({}); r.attributes!.request!.http!.method = ""; return r; })(), "malformed_request"],
  ["empty path", (() => { const r = checkRequest({}); r.attributes!.request!.http!.path = ""; return r; })(), "malformed_request"],
  ["64 KB tenant header", checkRequest({ headers: { "x-tenant-id": big } }), "tenant_invalid"],
  ["64 KB other header", checkRequest({ headers: { "x-tenant-id": "nobody", "x-junk": big } }), "tenant_unknown"],
  ["control characters", checkRequest({ headers: { "x-tenant-id": "acme\r\nx-evil: 1" } }), "tenant_invalid"],
  ["NUL", checkRequest({ headers: { "x-tenant-id": "ac\u0000me" } }), "tenant_invalid"],
  ["non-UTF-8 as Envoy sends it (!)", checkRequest({ headers: { "x-tenant-id": "ac!me" } }), "tenant_invalid"],
  ["traversal", checkRequest({ headers: { "x-tenant-id": "../acme" } }), "tenant_invalid"],
  ["encoded traversal", checkRequest({ headers: { "x-tenant-id": "%2e%2e%2facme" } }), "tenant_invalid"],
  ["dots only", checkRequest({ headers: { "x-tenant-id": ".." } }), "tenant_invalid"],
  ["upper case (collides after folding)", checkRequest({ headers: { "x-tenant-id": "ACME" } }), "tenant_invalid"],
  ["fullwidth letters (collide after NFKC)", checkRequest({ headers: { "x-tenant-id": "\uff41cme" } }), "tenant_invalid"],
  ["combining mark", checkRequest({ headers: { "x-tenant-id": "acme\u0301" } }), "tenant_invalid"],
  ["Cyrillic homoglyph", checkRequest({ headers: { "x-tenant-id": "\u0430cme" } }), "tenant_invalid"],
  ["two tenants joined by Envoy", checkRequest({ headers: { "x-tenant-id": "acme,globex" } }), "tenant_ambiguous"],
  ["tenant with trailing comma", checkRequest({ headers: { "x-tenant-id": "acme," } }), "tenant_ambiguous"],
  ["foreign division", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionId=div-g1" }), "division_forbidden"],
  ["foreign division in a comma list", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionId=div-acme,div-g1" }), "division_forbidden"],
  ["foreign division, encoded comma", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionId=div-acme%2Cdiv-g1" }), "division_forbidden"],
  ["foreign division, other key case", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?DIVISIONID=div-g1" }), "division_forbidden"],
  ["foreign division, encoded key", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?%64ivisionId=div-g1" }), "division_forbidden"],
  ["foreign division, plural key", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionIds=div-g1" }), "division_forbidden"],
  ["foreign division on an uncatalogued route", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/users?divisionId=div-g1" }), "allow-without-division"],
  ["broken percent-encoding in a division", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionId=%zz" }), "division_malformed"],
  ["cross-division digest", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing/queues/divisionviews/all" }), "route_forbidden"],
  ["cross-division digest, encoded", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing/queues/divisionviews/%61ll" }), "route_forbidden"],
  ["cross-division digest behind a ';' parameter", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing/queues/divisionviews/all;x=1" }), "path_malformed"],
  ["';' parameter in an earlier segment", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing;a/queues/divisionviews/all" }), "path_malformed"],
  ["';' parameter dropping the division filter", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing/queues;x" }), "path_malformed"],
  ["double-encoded ';'", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/routing/queues%253Bx" }), "path_malformed"],
  ["encoded dot segment", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/users/%2e%2e/routing/queues/divisionviews/all" }), "path_malformed"],
  ["foreign division, bracket key", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionId[]=div-g1" }), "division_forbidden"],
  ["foreign division, indexed key", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?divisionIds[0]=div-g1" }), "division_forbidden"],
  ["foreign division, dotted key", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?division.id=div-g1" }), "division_forbidden"],
  ["foreign division, double-encoded key", checkRequest({ headers: { "x-tenant-id": "acme" }, path: "/api/v2/flows?%2564ivisionId=div-g1" }), "division_forbidden"],
  ["revoking the shared token", checkRequest({ method: "DELETE", headers: { "x-tenant-id": "acme" }, path: "/api/v2/tokens/me" }), "route_forbidden"],
  ["a new OAuth client secret", checkRequest({ method: "POST", headers: { "x-tenant-id": "acme" }, path: "/api/v2/oauth/clients/c-1/secret" }), "route_forbidden"],
  ["namespace rule, foreign trust domain", checkRequest({ headers: { "x-tenant-id": "initech" }, path: "/api/v2/flows", principal: "spiffe://evil.example/ns/initech/sa/x" }), "caller_not_allowed"],
];

describe("bad input table", () => {
  it.each(TABLE)("%s", async (_what, req, expected) => {
    const { check } = harness();
    const o = await check(req);
    if (expected === "allow-without-division") {
      expect(o.decision).toBe("allow");
      if (o.response.httpResponse?.$case !== "okResponse") throw new Error("not ok");
      expect(o.response.httpResponse.value.queryParametersToSet).toEqual([]);
      expect(o.response.httpResponse.value.queryParametersToRemove).toEqual(["divisionId"]);
    } else {
      expect(o.decision).toBe("deny");
      expect(o.reason).toBe(expected);
      expect(o.response.httpResponse?.$case).toBe("deniedResponse");
      expect(o.response.status?.code).not.toBe(0);
    }
  });

});

describe("bad input: special cases", () => {
  it("header_map (encode_raw_headers) with a repeated tenant is ambiguous", async () => {
    const req = checkRequest({});
    req.attributes!.request!.http!.headers = {};
    req.attributes!.request!.http!.headerMap = {
      headers: [
        { key: "x-tenant-id", value: "", rawValue: Buffer.from("acme") },
        { key: "x-tenant-id", value: "", rawValue: Buffer.from("globex") },
      ],
    };
    expect((await harness().check(req)).reason).toBe("tenant_ambiguous");
  });

  it("malformed protobuf bytes decode to a denial, never an exception", async () => {
    const deserialize = authorizationServiceDefinition["Check"]!.requestDeserialize;
    const { check } = harness();
    for (const bytes of [Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x80]), Buffer.from("not protobuf at all"), Buffer.alloc(0)]) {
      const o = await check(deserialize(bytes) as Buffer);
      expect(o.decision).toBe("deny");
      expect(o.reason).toBe("malformed_request");
    }
  });
});

const KNOWN = new Map(TENANTS.map((t) => [t.id, t]));
const headerName = fc.constantFrom("x-tenant-id", "authorization", "x-request-id", "divisionid", ":path", "x-junk");
const tenantish = fc.oneof(
  fc.constantFrom("acme", "globex", "initech", "ACME", "acme,globex", "", " ", "../acme", "acme\u0000"),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
);
const divisionValue = fc.oneof(fc.constantFrom("div-acme", "div-g1", "div-g2", "div-i", "", "%zz", "div-acme%2Cdiv-g1"), fc.string({ maxLength: 20 }));
const queryKey = fc.constantFrom("divisionId", "divisionIds", "DivisionID", "%64ivisionId", "pageSize", "division", "");
const query = fc.array(fc.tuple(queryKey, divisionValue), { maxLength: 5 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));
const path = fc.tuple(
  fc.oneof(
    fc.constantFrom("/api/v2/routing/queues", "/api/v2/scripts", "/api/v2/users", "/api/v2/routing/queues/divisionviews/all", "/", "//x", "/api/v2/flows/../users"),
    fc.webPath(),
  ),
  query,
).map(([p, q]) => (q ? `${p}?${q}` : p));
const arbitraryRequest = fc.record({
  method: fc.constantFrom("GET", "POST", "PATCH", "DELETE", "get", "X"),
  path,
  tenant: fc.option(tenantish, { nil: undefined }),
  principal: fc.constantFrom("", "spiffe://cluster.local/ns/globex/sa/etl", "spiffe://cluster.local/ns/acme/sa/x", "garbage"),
  extra: fc.dictionary(headerName, fc.string({ maxLength: 100 }), { maxKeys: 6 }),
});

describe("fuzzing the decision path (fast-check)", () => {
  it(`answers every request and allows only what the rules allow (${FUZZ_RUNS} runs)`, async () => {
    const { check } = harness();
    await fc.assert(
      fc.asyncProperty(arbitraryRequest, async (r) => {
        const headers: Record<string, string> = { ...r.extra };
        if (r.tenant === undefined) delete headers["x-tenant-id"];
        else headers["x-tenant-id"] = r.tenant;
        const o = await check(checkRequest({ method: r.method, path: r.path, headers, principal: r.principal }));
        expect(["allow", "deny"]).toContain(o.decision);
        if (o.decision === "deny") {
          expect(DENY_REASON_CODES).toContain(o.reason);
          expect(o.reason).not.toBe("internal_error");
          return;
        }
        // Allowed: the tenant is known, named exactly, and every division we set is the tenant's own.
        const tenant = KNOWN.get(headers["x-tenant-id"]!.trim());
        expect(tenant).toBeDefined();
        if (o.response.httpResponse?.$case !== "okResponse") throw new Error("allow without ok_response");
        const ok = o.response.httpResponse.value;
        expect(ok.headers.map((h) => h.header?.value)).toEqual([`Bearer tok-${tenant!.id}`, tenant!.environment]);
        for (const p of ok.queryParametersToSet) {
          for (const v of p.value.split(",")) expect(tenant!.divisions).toContain(decodeURIComponent(v));
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it(`the wire reader is total on arbitrary bytes, and reads well-formed requests exactly (${FUZZ_RUNS} runs)`, () => {
    const picker = new HeaderPicker(["x-tenant-id", "x-request-id"]);
    let parsed = 0;
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }), wellFormed), (input) => {
        if (input instanceof Uint8Array) {
          readCheckRequest(input, picker); // throws only on a bug: bad input is a malformed_request value
          return;
        }
        // A request Envoy could send: encoded by the generated encoder, it must read back field for field.
        const bytes = CheckRequest.encode(checkRequest({ method: input.method, path: input.target, headers: input.headers, principal: input.principal, id: input.streamId })).finish();
        const read = readCheckRequest(bytes, picker);
        if ("kind" in read) throw new Error(`well-formed request read as ${read.reason}`);
        parsed++;
        expect(read.method).toBe(input.method);
        expect(read.path).toBe(input.path);
        expect(read.rawQuery).toBe(input.query);
        expect(read.sourcePrincipal).toBe(input.principal);
        expect(read.requestId).toBe(input.headers["x-request-id"] || input.streamId);
        expect(read.headers.get("x-tenant-id")).toBe(input.headers["x-tenant-id"]);
        expect(read.headers.size).toBe(Object.keys(input.headers).filter((h) => h === "x-tenant-id" || h === "x-request-id").length);
      }),
      { numRuns: FUZZ_RUNS },
    );
    // Both halves ran: about half the runs were well-formed requests.
    expect(parsed).toBeGreaterThan(FUZZ_RUNS / 4);
  });
});

/** Generated well-formed requests with their fields, for the wire reader. */
const token = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/);
const wellFormed = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
    segments: fc.array(token, { minLength: 0, maxLength: 6 }),
    query: fc.oneof(fc.constant(""), fc.array(fc.tuple(token, token), { minLength: 1, maxLength: 4 }).map((ps) => ps.map(([k, v]) => `${k}=${v}`).join("&"))),
    tenant: fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), { nil: undefined }),
    requestId: fc.option(fc.uuid(), { nil: undefined }),
    streamId: fc.stringMatching(/^[0-9]{1,19}$/),
    principal: fc.oneof(fc.constant(""), token.map((sa) => `spiffe://cluster.local/ns/team/sa/${sa}`)),
    junk: fc.dictionary(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.string({ maxLength: 30 }), { maxKeys: 3 }),
  })
  .map((r) => {
    const path = `/${r.segments.join("/")}`;
    const headers: Record<string, string> = { ...r.junk };
    delete headers["x-tenant-id"];
    delete headers["x-request-id"];
    if (r.tenant !== undefined) headers["x-tenant-id"] = r.tenant;
    if (r.requestId !== undefined) headers["x-request-id"] = r.requestId;
    return { method: r.method, path, query: r.query, target: r.query ? `${path}?${r.query}` : path, headers, principal: r.principal, streamId: r.streamId };
  });

/**
 * Requests with a known right answer (the oracle below is written from the rules in docs/security.md, not
 * from the code): the harness's tenants, callers that are or are not bound to them, catalogued, uncatalogued
 * and denied routes, and division filters naming own and foreign divisions in several key spellings.
 */
const ORACLE_PRINCIPALS = [
  "",
  "spiffe://cluster.local/ns/globex/sa/etl",
  "spiffe://cluster.local/ns/initech/sa/app",
  "spiffe://cluster.local/ns/acme/sa/etl",
  "spiffe://evil.example/ns/initech/sa/app",
  "spiffe://cluster.local/ns/globex/sa/etl/extra",
];
const ORACLE_ROUTES = [
  { method: "GET", path: "/api/v2/routing/queues", kind: "division", param: "divisionId" },
  { method: "GET", path: "/api/v2/scripts", kind: "division", param: "divisionIds" },
  { method: "GET", path: "/api/v2/users/u-1/queues", kind: "division", param: "divisionId" },
  { method: "GET", path: "/api/v2/users", kind: "uncatalogued" },
  { method: "POST", path: "/api/v2/conversations/messages", kind: "uncatalogued" },
  { method: "GET", path: "/api/v2/routing/queues/divisionviews/all", kind: "denied" },
  { method: "DELETE", path: "/api/v2/tokens/me", kind: "denied" },
  { method: "GET", path: "/api/v2/routing/queues;x=1", kind: "malformed" },
] as const;
const ALL_DIVISIONS = TENANTS.flatMap((t) => t.divisions);
const DIVISION_KEY_SPELLINGS = ["divisionId", "divisionIds", "DIVISIONID", "%64ivisionId", "divisionId[]", "division.id", "division_ids"];
const oracleRequest = fc.record({
  tenant: fc.constantFrom(...TENANTS.map((t) => t.id)),
  principal: fc.constantFrom(...ORACLE_PRINCIPALS),
  route: fc.constantFrom(...ORACLE_ROUTES),
  filters: fc.array(fc.tuple(fc.constantFrom(...DIVISION_KEY_SPELLINGS), fc.uniqueArray(fc.constantFrom(...ALL_DIVISIONS), { minLength: 1, maxLength: 3 })), { maxLength: 2 }),
  pageSize: fc.boolean(),
});

type Expected = { decision: "deny"; reason: string } | { decision: "allow"; set: { key: string; value: string }[]; remove: string[] };

function oracle(r: typeof oracleRequest extends fc.Arbitrary<infer T> ? T : never): Expected {
  const tenant = TENANTS.find((t) => t.id === r.tenant)!;
  const { principal: p, route } = r;
  const allowed =
    "allowedPrincipals" in tenant
      ? /^spiffe:\/\/cluster\.local\/ns\/globex\/sa\/[^/]+$/.test(p)
      : "allowedNamespaces" in tenant
        ? /^spiffe:\/\/cluster\.local\/ns\/initech\/sa\/[^/]+$/.test(p)
        : true; // acme: configured without a binding, local mode: the per-pod config is its binding
  if (!allowed) return { decision: "deny", reason: "caller_not_allowed" };
  if (route.kind === "malformed") return { decision: "deny", reason: "path_malformed" };
  if (route.kind === "denied") return { decision: "deny", reason: "route_forbidden" };
  const keys = [...new Set(r.filters.map(([k]) => k))];
  if (route.kind === "uncatalogued") return { decision: "allow", set: [], remove: keys };
  const asked = new Set(r.filters.flatMap(([, v]) => v));
  if ([...asked].some((d) => !tenant.divisions.includes(d))) return { decision: "deny", reason: "division_forbidden" };
  const divisions = asked.size > 0 ? tenant.divisions.filter((d) => asked.has(d)) : tenant.divisions;
  const param = route.param;
  return { decision: "allow", set: [{ key: param, value: divisions.join(",") }], remove: keys.filter((k) => k !== param) };
}

describe("the decision path against an oracle (fast-check)", () => {
  it(`gives the right answer to requests whose answer is known, and allows a fair share of them (${FUZZ_RUNS} runs)`, async () => {
    const { check } = harness();
    let allows = 0;
    await fc.assert(
      fc.asyncProperty(oracleRequest, async (r) => {
        const query = [...(r.pageSize ? ["pageSize=25"] : []), ...r.filters.map(([k, v]) => `${k}=${v.join(",")}`)].join("&");
        const headers = { "x-tenant-id": r.tenant };
        const o = await check(checkRequest({ method: r.route.method, path: query ? `${r.route.path}?${query}` : r.route.path, headers, principal: r.principal }));
        const want = oracle(r);
        if (want.decision === "deny") {
          expect({ decision: o.decision, reason: o.reason }).toEqual(want);
          return;
        }
        expect(o.decision).toBe("allow");
        allows++;
        if (o.response.httpResponse?.$case !== "okResponse") throw new Error("allow without ok_response");
        const ok = o.response.httpResponse.value;
        const environment = TENANTS.find((t) => t.id === r.tenant)?.environment;
        expect(ok.headers.map((h) => [h.header?.key, h.header?.value])).toEqual([
          ["authorization", `Bearer tok-${r.tenant}`],
          ["x-scopegate-upstream", environment],
        ]);
        expect(ok.queryParametersToSet).toEqual(want.set);
        expect(ok.queryParametersToRemove).toEqual(want.remove);
        expect(ok.headersToRemove).toEqual(["x-tenant-id"]);
      }),
      { numRuns: FUZZ_RUNS },
    );
    // An authorizer that denied everything would fail here (about 18% of these requests should be allowed).
    expect(allows).toBeGreaterThan(FUZZ_RUNS / 10);
  });
});

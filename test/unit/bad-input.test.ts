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
import { harness, TENANTS } from "./authorizer-harness.js";
import { checkRequest } from "./fixtures.js";

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

  it(`the wire reader is total on arbitrary bytes (${FUZZ_RUNS} runs)`, () => {
    const picker = new HeaderPicker(["x-tenant-id", "x-request-id"]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        readCheckRequest(bytes, picker); // throws only on a bug: bad input is a malformed_request value
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

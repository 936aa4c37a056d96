import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileDivisionKeys, isDivisionKey, isNormalisedDivisionKey, mayNameDivisions, planDivision, readDivisionParams } from "../../src/authz/division-plan.js";
import { GENESYS_CROSS_DIVISION_ROUTES, GENESYS_DIVISION_ROUTES } from "../../src/profiles/genesys/catalog.js";
import { GENESYS_CLOUD } from "../../src/profiles/genesys/profile.js";
import { buildRouteTable } from "../../src/authz/route-table.js";

const table = buildRouteTable(
  GENESYS_DIVISION_ROUTES.map(([method, path, param]) => ({ method, path, param })),
  GENESYS_CROSS_DIVISION_ROUTES.map(([method, path]) => ({ method, path })),
);
const DIVS = ["d-1", "d-2"];
const KEYS = compileDivisionKeys(GENESYS_CLOUD.divisionKeys!);

describe("route catalog", () => {
  it("ships the 53 operations of docs/genesys-facts.md, with both parameter spellings", () => {
    expect(GENESYS_DIVISION_ROUTES).toHaveLength(53);
    expect(GENESYS_DIVISION_ROUTES.filter((r) => r[2] === "divisionIds").length).toBeGreaterThan(0);
  });

  it.each([
    ["GET", "/api/v2/routing/queues", { kind: "division", param: "divisionId" }],
    ["GET", "/api/v2/routing/queues/", { kind: "division", param: "divisionId" }],
    ["GET", "/api/v2/Routing/Queues", { kind: "division", param: "divisionId" }],
    ["GET", "/api/v2/routing/%71ueues", { kind: "division", param: "divisionId" }],
    ["GET", "/api/v2/scripts", { kind: "division", param: "divisionIds" }],
    ["GET", "/api/v2/users/u-1/queues", { kind: "division", param: "divisionId" }],
    ["PATCH", "/api/v2/users/u-1/queues", { kind: "division", param: "divisionId" }],
    ["POST", "/api/v2/socialmedia/escalations/messages", { kind: "division", param: "divisionId" }],
    ["GET", "/api/v2/users/u-1/queues/extra", { kind: "uncatalogued" }],
    ["GET", "/api/v2/users", { kind: "uncatalogued" }],
    ["POST", "/api/v2/routing/queues", { kind: "uncatalogued" }],
    ["GET", "/api/v2/routing/queues/divisionviews/all", { kind: "forbidden" }],
  ])("%s %s", (method, path, expected) => {
    expect(table.match(method, path)).toEqual(expected);
  });
});

describe("planDivision", () => {
  const queues = table.match("GET", "/api/v2/routing/queues");

  it("sets the tenant's divisions when the caller sent none", () => {
    expect(planDivision(queues, "pageSize=5", DIVS, KEYS)).toEqual({ set: [{ key: "divisionId", value: "d-1,d-2" }], remove: [] });
  });

  it("narrows to a requested subset and never widens", () => {
    expect(planDivision(queues, "divisionId=d-2", DIVS, KEYS)).toEqual({ set: [{ key: "divisionId", value: "d-2" }], remove: [] });
    expect(planDivision(queues, "divisionId=d-2&divisionId=other", DIVS, KEYS)).toEqual({ kind: "deny", reason: "division_forbidden" });
    expect(planDivision(queues, "divisionId=d-1,other", DIVS, KEYS)).toEqual({ kind: "deny", reason: "division_forbidden" });
  });

  it("removes every other spelling of the division key", () => {
    expect(planDivision(queues, "DivisionID=d-1&division%49d=d-2&divisionIds=", DIVS, KEYS)).toEqual({
      set: [{ key: "divisionId", value: "d-1,d-2" }],
      remove: ["DivisionID", "division%49d", "divisionIds"],
    });
  });

  it("percent-encodes values", () => {
    expect(planDivision(queues, "", ["a b", "c&d"], KEYS)).toEqual({ set: [{ key: "divisionId", value: "a%20b,c%26d" }], remove: [] });
  });

  it("treats an undecodable division value as malformed", () => {
    expect(planDivision(queues, "divisionId=%E0%A4%A", DIVS, KEYS)).toEqual({ kind: "deny", reason: "division_malformed" });
  });

  it("strips division keys on routes that take none, and adds nothing", () => {
    const users = table.match("GET", "/api/v2/users");
    expect(planDivision(users, "divisionId=x&pageSize=2", DIVS, KEYS)).toEqual({ set: [], remove: ["divisionId"] });
    expect(planDivision(users, "pageSize=2", DIVS, KEYS)).toEqual({ set: [], remove: [] });
  });

  it("denies cross-division digests", () => {
    expect(planDivision(table.match("GET", "/api/v2/routing/queues/divisionviews/all"), "", DIVS, KEYS)).toEqual({
      kind: "deny",
      reason: "route_forbidden",
    });
  });
});

describe("look-alike division keys (issue 11, finding 5)", () => {
  const queues = table.match("GET", "/api/v2/routing/queues");
  it.each([
    "divisionId[]", "divisionIds[0]", "divisionIds[]", "division[id]", "division.id", "division_id", "division-id", "Division_Ids",
    "%2564ivisionId", "%252564ivisionId", "%64ivisionId%5B%5D", "division+id", "+divisionId+", "%20divisionId", "\uff44ivisionId", "DIVISION.IDS[7]",
  ])("%s names the division filter: a foreign value is denied, an own value narrowed, the key removed", (key) => {
    expect(planDivision(queues, `${key}=other`, DIVS, KEYS)).toEqual({ kind: "deny", reason: "division_forbidden" });
    expect(planDivision(queues, `${key}=d-2`, DIVS, KEYS)).toEqual({ set: [{ key: "divisionId", value: "d-2" }], remove: [key] });
    const users = table.match("GET", "/api/v2/users");
    expect(planDivision(users, `pageSize=1&${key}=other`, DIVS, KEYS)).toEqual({ set: [], remove: [key] });
  });

  it.each(["divisions", "divisionName", "subdivisionId", "division", "pageSize", "discount%25"])("%s is not a division key", (key) => {
    expect(planDivision(queues, `${key}=other`, DIVS, KEYS)).toEqual({ set: [{ key: "divisionId", value: "d-1,d-2" }], remove: [] });
  });

  it("refuses a division key hidden after ';' inside a pair (servers that split on ';' would read it)", () => {
    expect(planDivision(queues, "pageSize=1;divisionId=other", DIVS, KEYS)).toEqual({ kind: "deny", reason: "division_malformed" });
    expect(planDivision(queues, "q=a;b", DIVS, KEYS)).toEqual({ set: [{ key: "divisionId", value: "d-1,d-2" }], remove: [] });
  });
});

describe("ambiguous paths are refused on every route (issue 11, finding 5)", () => {
  it.each([
    "/api/v2/routing/queues/divisionviews/all;x=1",
    "/api/v2/routing;a/queues/divisionviews/all",
    "/api/v2/routing/queues;x",
    "/api/v2/routing/queues%3Bx",
    "/api/v2/routing/queues%3bx",
    "/api/v2/routing/queues%253Bx",
    "/api/v2/routing/queues%25253bx",
    "/api/v2/users;jsessionid=1",
    "/api/v2/routing%2Fqueues/divisionviews/all",
    "/api/v2/routing%252Fqueues",
    "/api/v2/routing\\queues",
    "/api/v2/routing/queues/divisionviews/./all",
    "/api/v2/routing/queues/x/../divisionviews/all",
    "/api/v2/routing/queues/%2e%2e/queues",
    "/api/v2/routing/queues/%252e%252e/queues",
  ])("%s", (path) => {
    for (const method of ["GET", "POST", "DELETE"]) expect(table.match(method, path)).toEqual({ kind: "malformed" });
    expect(planDivision(table.match("GET", path), "", DIVS, KEYS)).toEqual({ kind: "deny", reason: "path_malformed" });
  });

  it("still matches double-encoded literal segments", () => {
    expect(table.match("GET", "/api/v2/routing/queues/divisionviews/%2561ll")).toEqual({ kind: "forbidden" });
    expect(table.match("GET", "/api/v2/users/a.b/queues")).toEqual({ kind: "division", param: "divisionId" });
  });
});

describe("route table memo", () => {
  it("answers a repeated (method, path) exactly as a table that never saw it (1,000 runs)", () => {
    const fresh = () =>
      buildRouteTable(
        GENESYS_DIVISION_ROUTES.map(([method, path, param]) => ({ method, path, param })),
        GENESYS_CROSS_DIVISION_ROUTES.map(([method, path]) => ({ method, path })),
      );
    const segment = fc.constantFrom("api", "v2", "routing", "queues", "QUEUES", "%71ueues", "divisionviews", "all", "flows", "q-1", "", "%zz");
    const call = fc.tuple(fc.constantFrom("GET", "POST", "DELETE"), fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join("/")}`));
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 20 }), (calls) => {
        const warm = fresh();
        for (const [method, path] of [...calls, ...calls]) expect(warm.match(method, path)).toEqual(fresh().match(method, path));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("isDivisionKey's shortcut for keys of letters and digits", () => {
  it("answers as the full rule for every key (5,000 runs)", () => {
    const key = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9]{0,16}$/),
      fc.constantFrom("divisionId", "DIVISIONIDS", "divisionid", "division", "divisionIdx", "pageSize", "", "0", "divisionId1"),
      fc.string({ maxLength: 16 }),
      fc.string({ unit: "binary", maxLength: 8 }),
    );
    fc.assert(
      fc.property(key, (k) => {
        expect(isDivisionKey(k, KEYS)).toBe(isNormalisedDivisionKey(k, KEYS));
      }),
      { numRuns: 5000 },
    );
    expect(isDivisionKey("DivisionIds", KEYS)).toBe(true);
    expect(isDivisionKey("pageSize", KEYS)).toBe(false);
  });
});

describe("mayNameDivisions (the parse-free path)", () => {
  it("is true for every query in which the parser finds a division key or refuses (5,000 runs)", () => {
    const piece = fc.constantFrom(
      "division", "Division", "DIVISIONID", "divisionIds", "id", "ids", "d", "i", "v", "s", "o", "n", "%", "%64", "%2564", "%25", "%2C", "%zz",
      "+", "=", "&", ";", ",", "1", "0", "a", " ", ".", "_", "-", "[", "]", "[]", "[0]", "\uff44", "\u0130", "pageSize",
    );
    // A division key spelt letter by letter: each letter in either case, maybe percent-encoded (once or twice),
    // maybe followed by a separator the normaliser ignores.
    const letter = (c: string, encoded: boolean) =>
      fc.tuple(
        encoded ? fc.constantFrom(c, c.toUpperCase(), `%${c.charCodeAt(0).toString(16)}`, `%25${c.charCodeAt(0).toString(16)}`) : fc.constantFrom(c, c.toUpperCase()),
        fc.constantFrom("", "", "", ".", "_", "-", "+", "[]", " ", ...(encoded ? ["%2E"] : [])),
      ).map(([a, b]) => a + b);
    const spelt = fc
      .tuple(fc.constantFrom("divisionid", "divisionids"), fc.boolean())
      .chain(([word, encoded]) => fc.tuple(...[...word].map((c) => letter(c, encoded))).map((ls) => ls.join("")));
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, spelt), { maxLength: 12 }).map((p) => p.join("")), (q) => {
        const parsed = readDivisionParams(q, KEYS);
        if (parsed === "malformed" || parsed.keys.length > 0) expect(mayNameDivisions(q, KEYS)).toBe(true);
      }),
      { numRuns: 5000 },
    );
    expect(mayNameDivisions("pageSize=25&pageNumber=1", KEYS)).toBe(false);
    expect(mayNameDivisions("%64ivisionId=x", KEYS)).toBe(true);
  });
});

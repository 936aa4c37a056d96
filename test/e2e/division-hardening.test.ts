/**
 * Division hardening through a real Envoy: whatever a caller puts in the query, upstream sees only the
 * tenant's own divisions (or a subset it asked for), exactly once; anything outside is denied.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    tenants: [
      { id: "acme", divisions: ["div-a1", "div-a2"], clientId: "acme-client", clientSecret: "acme-S", via: "config" },
      { id: "globex", divisions: ["div-g"], clientId: "globex-client", clientSecret: "globex-S", via: "config" },
    ],
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Every division value upstream received, across every spelling of the key. */
function divisionParams(query: string): { keys: string[]; values: string[] } {
  const keys: string[] = [];
  const values: string[] = [];
  for (const [k, v] of new URLSearchParams(query)) {
    if (!/^divisionids?$/i.test(k)) continue;
    keys.push(k);
    values.push(...v.split(","));
  }
  return { keys, values };
}

describe("caller-supplied divisions never widen the filter", () => {
  it.each([
    ["none", "", ["div-a1", "div-a2"]],
    ["own division", "divisionId=div-a1", ["div-a1"]],
    ["own division repeated", "divisionId=div-a1&divisionId=div-a1", ["div-a1"]],
    ["both own divisions as a comma list", "divisionId=div-a2,div-a1", ["div-a1", "div-a2"]],
    ["both own, encoded comma", "divisionId=div-a1%2Cdiv-a2", ["div-a1", "div-a2"]],
    ["other letter case of the key", "DIVISIONID=div-a2", ["div-a2"]],
    ["percent-encoded key", "%64ivision%49d=div-a2", ["div-a2"]],
    ["percent-encoded value", "divisionId=%64iv-a1", ["div-a1"]],
    ["plural key on a singular route", "divisionIds=div-a1", ["div-a1"]],
    ["empty value", "divisionId=", ["div-a1", "div-a2"]],
    ["bare key", "divisionId", ["div-a1", "div-a2"]],
    ["mixed with other params", "pageSize=5&divisionId=div-a1&name=x", ["div-a1"]],
  ])("%s", async (_what, query, expected) => {
    const before = stack.standin.received.length;
    const res = await send(stack.envoy, `/api/v2/routing/queues${query ? `?${query}` : ""}`, { "x-tenant-id": "acme" });
    expect(res.status).toBe(200);
    const got = stack.standin.received.slice(before);
    expect(got).toHaveLength(1);
    const { keys, values } = divisionParams(got[0]!.query);
    expect(keys).toEqual(["divisionId"]);
    expect(values.sort()).toEqual(expected);
    expect(got[0]!.tokenClientId).toBe("acme-client");
  });

  it.each([
    ["another tenant's division", "divisionId=div-g"],
    ["another tenant's division after an own one", "divisionId=div-a1&divisionId=div-g"],
    ["smuggled in a comma list", "divisionId=div-a1,div-g"],
    ["smuggled with an encoded comma", "divisionId=div-a1%2Cdiv-g"],
    ["other key case", "DivisionId=div-g"],
    ["encoded key", "%64ivisionId=div-g"],
    ["plural key", "divisionIds=div-g"],
    ["a made-up division", "divisionId=*"],
  ])("denies %s", async (_what, query) => {
    const before = stack.standin.received.length;
    const res = await send(stack.envoy, `/api/v2/routing/queues?${query}`, { "x-tenant-id": "acme" });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error).toBe("division_forbidden");
    expect(stack.standin.received.length).toBe(before);
  });

  it("denies the cross-division digest route by default", async () => {
    const before = stack.standin.received.length;
    const res = await send(stack.envoy, "/api/v2/routing/queues/divisionviews/all", { "x-tenant-id": "acme" });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error).toBe("route_forbidden");
    expect(stack.standin.received.length).toBe(before);
  });

  it("uses divisionIds where the API spells it so", async () => {
    const before = stack.standin.received.length;
    expect((await send(stack.envoy, "/api/v2/externalcontacts/contacts?divisionId=div-a1", { "x-tenant-id": "acme" })).status).toBe(200);
    const q = new URLSearchParams(stack.standin.received.slice(before)[0]!.query);
    expect(q.getAll("divisionIds")).toEqual(["div-a1"]);
    expect(q.has("divisionId")).toBe(false);
  });
});

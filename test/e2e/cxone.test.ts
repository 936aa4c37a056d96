// A NICE CXone tenant beside a Genesys Cloud tenant through the real data path: Envoy (the egress config rendered
// for these environments by the same generator as the shipped files), scopegate and OpenBao. The CXone
// environment's stand-in answers the password grant at /auth/token and its API on a configured API host that is
// not api.<env> (docs/nice-cxone.md). What reaches each stand-in (SNI, Host, token, query) is read there.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenesysStandin, ReceivedRequest } from "../support/genesys-standin.js";
import { rawHeader, send, startStack, type Stack } from "../support/stack.js";

const GENESYS = { env: "mypurecloud.com", ip: "127.0.0.2" };
const CXONE = { env: "na1.niceincontact.com", ip: "127.0.0.3", cxone: { apiHost: "api-na1.niceincontact.com" } };
const AGENTS = "/incontactapi/services/v31.0/agents";

let stack: Stack;
const genesys = (): GenesysStandin => stack.standins.get(GENESYS.env)!;
const cxone = (): GenesysStandin => stack.standins.get(CXONE.env)!;
const last = (s: GenesysStandin): ReceivedRequest => s.received[s.received.length - 1]!;

beforeAll(async () => {
  stack = await startStack({
    regions: [GENESYS, CXONE],
    tenants: [
      { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-secret", via: "config", environment: GENESYS.env },
      {
        id: "umbrella",
        divisions: ["bu-1"],
        clientId: "umbrella-app",
        clientSecret: "umbrella-secret",
        accessKey: { id: "AK-UMBRELLA", secret: "umbrella key&secret" },
        via: "config",
        environment: CXONE.env,
      },
      {
        id: "wayne",
        divisions: ["bu-2"],
        clientId: "wayne-app",
        clientSecret: "wayne-secret",
        accessKey: { id: "AK-WAYNE", secret: "wayne-key" },
        via: "vault",
        environment: CXONE.env,
      },
    ],
  });
}, 120_000);
afterAll(async () => stack?.stop());

describe("a NICE CXone tenant beside a Genesys Cloud tenant", () => {
  it("the CXone tenant's request reaches its configured API host with a password-grant token and its query unchanged", async () => {
    const res = await send(stack.envoy, `${AGENTS}?divisionId=anything&top=5`, { "x-tenant-id": "umbrella" });
    expect(res.status).toBe(200);
    const r = last(cxone());
    expect(r).toMatchObject({ sni: CXONE.cxone.apiHost, host: CXONE.cxone.apiHost, path: AGENTS, tokenClientId: "umbrella-app", status: 200 });
    // No division plan for CXone: the caller's query arrives as sent.
    expect(r.query).toBe("divisionId=anything&top=5");
    expect(rawHeader(r.headers, "x-tenant-id")).toEqual([]);
    expect(rawHeader(r.headers, "x-scopegate-upstream")).toEqual([]);
    const calls = cxone().tokenCalls.filter((c) => c.clientId === "umbrella-app");
    expect(calls).toHaveLength(1);
    const form = new URLSearchParams(calls[0]!.body ?? "");
    expect([form.get("grant_type"), form.get("username"), form.get("password")]).toEqual(["password", "AK-UMBRELLA", "umbrella key&secret"]);
  });

  it("the Genesys tenant still gets its region, its client-credentials token and its division filter", async () => {
    const res = await send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "acme" });
    expect(res.status).toBe(200);
    const r = last(genesys());
    expect(r).toMatchObject({ sni: "api.mypurecloud.com", host: "api.mypurecloud.com", tokenClientId: "acme-client" });
    expect(new URLSearchParams(r.query).get("divisionId")).toBe("div-acme");
    expect(genesys().tokenCalls.map((c) => new URLSearchParams(c.body ?? "").get("grant_type"))).toEqual(["client_credentials"]);
  });

  it("a CXone tenant discovered from its Vault record (profile nice-cxone) is served the same way", async () => {
    const res = await send(stack.envoy, AGENTS, { "x-tenant-id": "wayne" });
    expect(res.status).toBe(200);
    expect(last(cxone())).toMatchObject({ host: CXONE.cxone.apiHost, tokenClientId: "wayne-app" });
  });

  it("each environment's route forwards only its own API's paths", async () => {
    const atCxone = cxone().received.length;
    const atGenesys = genesys().received.length;
    expect((await send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "umbrella" })).status).toBe(404);
    expect((await send(stack.envoy, AGENTS, { "x-tenant-id": "acme" })).status).toBe(404);
    expect(cxone().received.length).toBe(atCxone);
    expect(genesys().received.length).toBe(atGenesys);
  });
});

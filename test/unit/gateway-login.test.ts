import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { basicClientId, gatewayBearer, isLogin } from "../../src/authz/gateway-login.js";
import { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { mintGatewayToken, openGatewayToken, type GatewayKeyring } from "../../src/gateway/gateway-token.js";
import { GatewayTokens } from "../../src/gateway/gateway-tokens.js";
import { parseKeysFile } from "../../src/gateway/keys-file.js";
import { TokenEntry } from "../../src/tokens/token-provider.js";
import { TOKEN_SOURCE_ERRORS } from "../../src/tokens/token-source-errors.js";
import { harness } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const ring = (current: string, keys: Record<string, Buffer>): GatewayKeyring => ({ current, keys: new Map(Object.entries(keys)) });
const RING = ring("k1", { k1: K1, k2: K2 });
const NOW = 1_800_000_000;
const claims = { tenant: "acme", identity: "spiffe://cluster.local/ns/acme/sa/etl", iat: NOW, exp: NOW + 600 };

describe("gateway token: mint and open", () => {
  it("round trips, under the current key", () => {
    const t = mintGatewayToken(RING, claims);
    expect(t).toMatch(/^sgw1\.k1\.[A-Za-z0-9_-]+$/);
    expect(openGatewayToken(RING, t)).toEqual(claims);
    // The payload is encrypted: neither tenant nor identity can be read off the token.
    expect(t).not.toContain("acme");
    expect(Buffer.from(t.split(".")[2]!, "base64url").toString("latin1")).not.toContain("acme");
  });

  it("refuses every single tampered byte", () => {
    const t = mintGatewayToken(RING, claims);
    const [prefix, id, body] = t.split(".");
    const sealed = Buffer.from(body!, "base64url");
    for (let i = 0; i < sealed.length; i++) {
      const copy = Buffer.from(sealed);
      copy[i] = copy[i]! ^ 0x01;
      expect(openGatewayToken(RING, `${prefix}.${id}.${copy.toString("base64url")}`), `byte ${i}`).toBeUndefined();
    }
  });

  it("refuses a swapped key id (the id is authenticated data), a removed key, another key ring, malformed tokens", () => {
    const t = mintGatewayToken(RING, claims);
    expect(openGatewayToken(RING, t.replace("sgw1.k1.", "sgw1.k2."))).toBeUndefined();
    expect(openGatewayToken(ring("k2", { k2: K2 }), t)).toBeUndefined();
    expect(openGatewayToken(ring("k1", { k1: randomBytes(32) }), t)).toBeUndefined();
    for (const bad of ["", "sgw1.", "sgw1.k1", "sgw1.k1.", "sgw1.k1.AAAA", "sgw1.k1.!!!!", "sgw2.k1.AAAA", `sgw1.k1.${"A".repeat(3000)}`]) {
      expect(openGatewayToken(RING, bad), bad.slice(0, 20)).toBeUndefined();
    }
  });

  it("GatewayTokens.verify: expired, another identity, a rotated-out key -> invalid", () => {
    const tokens = new GatewayTokens(RING, 3600);
    const t = tokens.mint("acme", claims.identity, 600, NOW * 1000);
    expect(tokens.verify(t, claims.identity, NOW * 1000)).toMatchObject({ tenant: "acme", exp: NOW + 600 });
    expect(tokens.verify(t, "spiffe://cluster.local/ns/globex/sa/etl", NOW * 1000)).toBe("invalid");
    expect(tokens.verify(t, claims.identity, (NOW + 600) * 1000)).toBe("invalid");
    expect(tokens.verify(t, claims.identity, (NOW + 599) * 1000)).not.toBe("invalid");
    // Verified before (cached): a new ring without k1 still refuses it.
    tokens.replaceKeys(ring("k2", { k2: K2 }));
    expect(tokens.verify(t, claims.identity, NOW * 1000)).toBe("invalid");
    expect(tokens.mint("acme", "", 60, NOW * 1000)).toMatch(/^sgw1\.k2\./);
  });
});

describe("gateway keys file", () => {
  const b64 = (b: Buffer) => b.toString("base64");
  it("accepts {current, keys} with 32-byte keys", () => {
    const r = parseKeysFile(JSON.stringify({ current: "a", keys: { a: b64(K1), "b-2_x": b64(K2) } }));
    expect("problems" in r ? r.problems : [...r.keys.keys()]).toEqual(["a", "b-2_x"]);
  });

  it.each([
    ["not JSON", "{", "not valid JSON"],
    ["current not listed", JSON.stringify({ current: "x", keys: { a: b64(K1) } }), "current: must name one of the keys"],
    ["a short key", JSON.stringify({ current: "a", keys: { a: b64(K1.subarray(0, 16)) } }), "keys.a: expected base64 of exactly 32 bytes (openssl rand -base64 32)"],
    ["a key id with a dot", JSON.stringify({ current: "a", keys: { a: b64(K1), "b.c": b64(K2) } }), 'keys: key id "b.c" must be 1-32 of A-Z a-z 0-9 _ -'],
    ["no keys", JSON.stringify({ current: "a" }), "keys: expected an object of key id -> base64 key"],
  ])("refuses %s, naming the problem and no key material", (_what, text, problem) => {
    const r = parseKeysFile(text);
    expect("problems" in r && r.problems).toContain(problem);
    expect(JSON.stringify(r)).not.toContain(b64(K1).slice(0, 12));
  });
});

describe("recognising a login", () => {
  it.each([
    ["POST", "/oauth/token", true],
    ["POST", "/login/oauth/token", true],
    ["POST", "/a/b/oauth/token", true],
    ["GET", "/oauth/token", false],
    ["POST", "/oauth/tokens", false],
    ["POST", "/api/v2/oauth/clients", false],
    ["POST", "/oauth/token/x", false],
  ])("%s %s -> %s", (method, path, want) => expect(isLogin(method, path)).toBe(want));

  it("reads the Basic client id (form-urlencoded, RFC 6749 §2.3.1), ignoring the secret", () => {
    const b = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
    expect(basicClientId(b("acme:anything"))).toBe("acme");
    expect(basicClientId(b("acme:"))).toBe("acme");
    expect(basicClientId(b("a%2Fb:x"))).toBe("a/b");
    expect(basicClientId(`basic   ${Buffer.from("acme:x").toString("base64")}`)).toBe("acme");
    for (const bad of [undefined, "", "Bearer x", b("acme"), b(":secret"), b("%zz:x"), "Basic !!!"]) expect(basicClientId(bad)).toBeUndefined();
  });

  it("takes a bearer as a gateway token only when it is one of ours", () => {
    expect(gatewayBearer("Bearer sgw1.k1.abc")).toBe("sgw1.k1.abc");
    expect(gatewayBearer("bearer sgw1.k1.abc")).toBe("sgw1.k1.abc");
    expect(gatewayBearer("Bearer placeholder")).toBeUndefined();
    expect(gatewayBearer("Basic sgw1.k1.abc")).toBeUndefined();
    expect(gatewayBearer(undefined)).toBeUndefined();
  });
});

const BASIC = (id: string) => ({ authorization: `Basic ${Buffer.from(`${id}:whatever`).toString("base64")}` });
const loginRequest = (id: string | undefined, opts: { body?: string; principal?: string; path?: string; method?: string } = {}) =>
  checkRequest({
    method: opts.method ?? "POST",
    path: opts.path ?? "/oauth/token",
    headers: id === undefined ? {} : BASIC(id),
    ...(opts.body === undefined ? { body: "grant_type=client_credentials" } : opts.body === "" ? {} : { body: opts.body }),
    ...(opts.principal ? { principal: opts.principal } : {}),
  });

type Answer = { status: number; body: Record<string, unknown>; headers: Record<string, string> };
function answerOf(response: CheckResponse): Answer {
  const http = response.httpResponse;
  if (http?.$case !== "deniedResponse") throw new Error(`not answered by scopegate: ${http?.$case}`);
  return {
    status: http.value.status!.code,
    body: JSON.parse(http.value.body) as Record<string, unknown>,
    headers: Object.fromEntries(http.value.headers.map((h) => [h.header!.key, h.header!.value])),
  };
}

describe("gateway login decisions (in-process, the real authorizer)", () => {
  const GLOBEX = "spiffe://cluster.local/ns/globex/sa/etl";
  const gateway = () => new GatewayTokens(RING, 3600);

  it("without gatewayTokens a login is refused: login_disabled, 404", async () => {
    const o = await harness().check(loginRequest("acme"));
    expect(o).toMatchObject({ decision: "deny", reason: "login_disabled" });
    expect(answerOf(o.response).status).toBe(404);
  });

  it.each([
    ["the local caller, an unbound configured tenant", "acme", {}, "login"],
    ["a principal its binding allows", "globex", { principal: GLOBEX }, "login"],
    ["under a login prefix", "acme", { path: "/login/oauth/token" }, "login"],
    ["without a body (grant_type unknown)", "acme", { body: "" }, "login"],
    ["no principal for a bound tenant", "globex", {}, "login_refused"],
    ["a principal bound elsewhere", "initech", { principal: GLOBEX }, "login_refused"],
    ["an unknown tenant", "nobody", {}, "login_refused"],
    ["a client id outside the tenant id pattern", "Not A Tenant", {}, "login_refused"],
    ["no Basic credentials", undefined, {}, "login_refused"],
    ["grant_type=password", "acme", { body: "grant_type=password&username=u&password=p" }, "login_grant_unsupported"],
    ["no grant_type", "acme", { body: "scope=x" }, "login_malformed"],
    ["two grant_types", "acme", { body: "grant_type=client_credentials&grant_type=client_credentials" }, "login_malformed"],
  ] as const)("%s -> %s", async (_what, id, opts, want) => {
    const o = await harness({ gateway: gateway() }).check(loginRequest(id, opts));
    expect(o.decision === "login" ? "login" : o.reason).toBe(want);
    const a = answerOf(o.response);
    if (want === "login") {
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ access_token: expect.stringMatching(/^sgw1\.k1\./), token_type: "bearer", expires_in: expect.any(Number) });
      expect(a.headers).toMatchObject({ "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" });
    } else if (want === "login_refused") {
      expect(a.status).toBe(401);
      expect(a.body).toEqual({ error: "invalid_client", error_description: expect.any(String) });
      expect(a.headers["www-authenticate"]).toBe("Basic");
    } else {
      expect(a.status).toBe(400);
      expect(a.body.error).toBe(want === "login_malformed" ? "invalid_request" : "unsupported_grant_type");
    }
  });

  it("egress.verifyHost (Istio egress gateway): a login is answered whatever its Host", async () => {
    const h = harness({ gateway: gateway(), verifyHost: true });
    const req = checkRequest({ method: "POST", path: "/oauth/token", host: "login.mypurecloud.de", headers: BASIC("acme"), body: "grant_type=client_credentials" });
    expect((await h.check(req)).decision).toBe("login");
  });

  it("a GET to /oauth/token is no login: it is an API request like any other", async () => {
    const o = await harness({ gateway: gateway() }).check(loginRequest("acme", { method: "GET" }));
    expect(o.reason).toBe("tenant_missing");
  });

  it("mesh mode: a principal mapped to a tenant (principalTenants) logs in as it, and as no other", async () => {
    const h = harness({ mode: "mesh", gateway: gateway(), principalTenants: { [GLOBEX]: "acme" } });
    expect((await h.check(loginRequest("acme", { principal: GLOBEX }))).decision).toBe("login");
    expect((await h.check(loginRequest("globex", { principal: GLOBEX }))).reason).toBe("login_refused");
    expect((await h.check(loginRequest("acme"))).reason).toBe("login_refused"); // no principal at all
  });

  it("login and API calls never disagree on who may act for a tenant (one binding check)", async () => {
    const principals = [undefined, GLOBEX, "spiffe://cluster.local/ns/initech/sa/etl", "spiffe://other.domain/ns/initech/sa/etl"];
    let compared = 0;
    for (const mode of ["local", "mesh"] as const) {
      for (const principalTenants of [{}, { [GLOBEX]: "acme" }] as Record<string, string>[]) {
        for (const localIdentity of [undefined, "spiffe://cluster.local/ns/initech/sa/local"]) {
          if (mode === "mesh" && localIdentity) continue;
          const h = harness({ mode, principalTenants, gateway: gateway(), ...(localIdentity ? { localIdentity } : {}) });
          for (const principal of principals) {
            for (const tenant of ["acme", "globex", "initech", "nobody"]) {
              const login = await h.check(loginRequest(tenant, principal ? { principal } : {}));
              const api = await h.check(checkRequest({ path: "/api/v2/flows", headers: { "x-tenant-id": tenant }, ...(principal ? { principal } : {}) }));
              const where = `${mode} ${JSON.stringify(principalTenants)} ${localIdentity} ${principal} ${tenant}`;
              expect(login.decision === "login", where).toBe(api.decision === "allow");
              compared++;
            }
          }
        }
      }
    }
    expect(compared).toBe(3 * 2 * 4 * 4);
  });

  it("expires_in = min(ttlSeconds, what is left of the tenant's Genesys token)", async () => {
    const now = Date.now();
    const h = harness({ gateway: new GatewayTokens(RING, 3600), now: () => now });
    h.tokens.entries.set("acme", new TokenEntry("Bearer tok-acme", now + 100_500, now + 90_000));
    expect(answerOf((await h.check(loginRequest("acme"))).response).body.expires_in).toBe(100);
    const long = harness({ gateway: new GatewayTokens(RING, 300), now: () => now });
    expect(answerOf((await long.check(loginRequest("acme"))).response).body.expires_in).toBe(300);
  });

  it("a tenant whose Genesys token cannot be had gets that denial, not a gateway token", async () => {
    const h = harness({ gateway: gateway() });
    h.tokens.failing.set("acme", TOKEN_SOURCE_ERRORS.rejected);
    const o = await h.check(loginRequest("acme"));
    expect(o).toMatchObject({ decision: "deny", reason: "token_rejected" });
    expect(answerOf(o.response).body.access_token).toBeUndefined();
  });
});

describe("API calls carrying a gateway token (in-process)", () => {
  const GLOBEX = "spiffe://cluster.local/ns/globex/sa/etl";
  async function loggedIn(opts: Parameters<typeof harness>[0] = {}, id = "acme", principal?: string) {
    let now = Date.now();
    const h = harness({ gateway: new GatewayTokens(RING, 3600), now: () => now, ...opts });
    const o = await h.check(loginRequest(id, principal ? { principal } : {}));
    const token = String(answerOf(o.response).body.access_token);
    const call = (headers: Record<string, string> = {}, p = principal) =>
      h.check(checkRequest({ path: "/api/v2/routing/queues", headers: { authorization: `Bearer ${token}`, ...headers }, ...(p ? { principal: p } : {}) }));
    return { h, token, call, advance: (ms: number) => void (now += ms) };
  }
  const authorizationOf = (r: CheckResponse) =>
    r.httpResponse?.$case === "okResponse" ? r.httpResponse.value.headers.find((h) => h.header?.key === "authorization")?.header?.value : undefined;

  it("resolve their tenant from the token, and the Genesys token replaces it", async () => {
    const { call } = await loggedIn();
    const o = await call();
    expect(o).toMatchObject({ decision: "allow", tenant: "acme" });
    expect(authorizationOf(o.response)).toBe("Bearer tok-acme");
    expect((await call({ "x-tenant-id": "acme" })).decision).toBe("allow");
  });

  it("a tenant header naming another tenant: caller_not_allowed", async () => {
    const { call } = await loggedIn();
    expect((await call({ "x-tenant-id": "initech" })).reason).toBe("caller_not_allowed");
  });

  it("another identity, an expired token: gateway_token_invalid (401, Bearer challenge)", async () => {
    const { call, advance } = await loggedIn({}, "globex", GLOBEX);
    expect((await call()).decision).toBe("allow");
    const other = await call({}, "spiffe://cluster.local/ns/globex/sa/other");
    expect(other.reason).toBe("gateway_token_invalid");
    expect(answerOf(other.response).status).toBe(401);
    expect(answerOf(other.response).headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
    advance(3_600_000);
    expect((await call()).reason).toBe("gateway_token_invalid");
  });

  it("a binding removed by a reload takes effect at once", async () => {
    const { h, call } = await loggedIn({ mode: "mesh", principalTenants: { [GLOBEX]: "acme" } }, "acme", GLOBEX);
    expect((await call()).decision).toBe("allow");
    h.authorizer.updatePolicy({ ...h.policy, callers: { ...h.policy.callers, principalTenants: new Map() } });
    expect((await call()).reason).toBe("caller_not_allowed");
  });

  it("a placeholder bearer is ignored as before; a gateway token without gatewayTokens is invalid", async () => {
    const plain = harness();
    expect((await plain.check(checkRequest({ headers: { authorization: "Bearer placeholder", "x-tenant-id": "acme" } }))).decision).toBe("allow");
    const { token } = await loggedIn();
    expect((await plain.check(checkRequest({ headers: { authorization: `Bearer ${token}`, "x-tenant-id": "acme" } }))).reason).toBe("gateway_token_invalid");
  });
});

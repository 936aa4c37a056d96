// Proves the Genesys Cloud stand-in answers as docs/genesys-facts.md says (token request, response, Retry-After),
// so e2e tests that rely on it are testing scopegate and not the stand-in.
import http from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const FORM = "application/x-www-form-urlencoded";

let standin: GenesysStandin;

function requestToken(
  id = "client-a",
  secret = "secret-a",
  body = "grant_type=client_credentials",
  contentType = FORM,
): Promise<Response> {
  return fetch(standin.tokenUrl, {
    method: "POST",
    headers: { authorization: basic(id, secret), "content-type": contentType },
    body,
  });
}

/** fetch() joins repeated headers; node:http sends an array value as separate header lines. */
function getWithRawHeaders(url: string, headers: Record<string, string | string[]>): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on("error", reject);
  });
}

async function tokenFor(id = "client-a", secret = "secret-a"): Promise<string> {
  const res = await requestToken(id, secret);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  standin = await startGenesysStandin();
  standin.addClient({
    clientId: "client-a",
    clientSecret: "secret-a",
    divisions: ["div-a1", "div-a2"],
    expiresIn: 600,
  });
  standin.addClient({ clientId: "client-b", clientSecret: "secret-b", divisions: ["div-b"] });
});
afterAll(() => standin.close());
beforeEach(() => standin.reset());

describe("POST /oauth/token", () => {
  it("issues a unique opaque bearer token with the client's expires_in", async () => {
    const first = await requestToken();
    expect(first.status).toBe(200);
    const body = (await first.json()) as Record<string, unknown>;
    expect(body).toEqual({ access_token: expect.any(String), token_type: "bearer", expires_in: 600 });
    const second = await tokenFor();
    expect(second).not.toBe(body.access_token);
    expect(standin.issuedTokens.get(second)).toMatchObject({ clientId: "client-a", divisions: ["div-a1", "div-a2"] });
    expect(standin.tokenRequests).toBe(2);
    expect(standin.tokenRequestsFor("client-a")).toBe(2);
    expect(standin.tokenRequestsFor("client-b")).toBe(0);
    expect(standin.tokenCalls[0]).toEqual({
      clientId: "client-a",
      contentType: FORM,
      body: "grant_type=client_credentials",
      status: 200,
    });
  });

  it("defaults expires_in to 86400", async () => {
    const res = await requestToken("client-b", "secret-b");
    expect(((await res.json()) as { expires_in: number }).expires_in).toBe(86_400);
  });

  it("rejects a wrong secret, an unknown client and a missing header with invalid_client 401", async () => {
    const expected = {
      error: "invalid_client",
      description: "authentication failed",
      error_description: "authentication failed",
    };
    const issuedBefore = standin.issuedTokens.size;
    for (const res of [
      await requestToken("client-a", "wrong"),
      await requestToken("nobody", "secret-a"),
      await fetch(standin.tokenUrl, {
        method: "POST",
        headers: { "content-type": FORM },
        body: "grant_type=client_credentials",
      }),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(expected);
    }
    expect(standin.issuedTokens.size).toBe(issuedBefore);
    expect(standin.tokenRequests).toBe(3);
  });

  it("rejects other grants, missing grant and a non-form body", async () => {
    const other = await requestToken("client-a", "secret-a", "grant_type=password&username=u&password=p");
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: "unsupported_grant_type" });
    expect((await requestToken("client-a", "secret-a", "")).status).toBe(400);
    const json = await requestToken("client-a", "secret-a", '{"grant_type":"client_credentials"}', "application/json");
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: "invalid_request" });
  });

  it("rotateSecret makes the old secret fail", async () => {
    standin.addClient({ clientId: "client-r", clientSecret: "old", divisions: ["div-r"] });
    await tokenFor("client-r", "old");
    standin.rotateSecret("client-r", "new");
    expect((await requestToken("client-r", "old")).status).toBe(401);
    await tokenFor("client-r", "new");
  });

  it("failNext answers the next n requests with the given status, then recovers", async () => {
    standin.failNext(2, 503);
    expect((await requestToken()).status).toBe(503);
    expect((await requestToken()).status).toBe(503);
    expect((await requestToken()).status).toBe(200);
  });

  it("rateLimitNext answers 429 with Retry-After and an ErrorBody", async () => {
    standin.rateLimitNext(1, 7);
    const res = await requestToken();
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(await res.json()).toMatchObject({
      code: "too.many.requests.retry.after",
      status: 429,
      message: expect.any(String),
    });
    expect((await requestToken()).status).toBe(200);
  });

  it("setDelayMs delays the answer", async () => {
    standin.setDelayMs(150);
    const started = performance.now();
    await tokenFor();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("hang holds requests until released", async () => {
    standin.hang(true);
    const pending = requestToken();
    const raced = await Promise.race([
      pending.then(() => "answered"),
      new Promise((r) => setTimeout(() => r("pending"), 200)),
    ]);
    expect(raced).toBe("pending");
    expect(standin.tokenRequests).toBe(1);
    standin.hang(false);
    expect((await pending).status).toBe(200);
  });
});

describe("POST /auth/token (a NICE CXone application)", () => {
  it("accepts only the password grant with the client's access key as username/password", async () => {
    standin.addClient({ clientId: "cx-app", clientSecret: "cx-secret", divisions: ["bu-1"], accessKey: { id: "AK-1", secret: "k&1" } });
    const post = (body: string) =>
      fetch(standin.cxoneTokenUrl, { method: "POST", headers: { authorization: basic("cx-app", "cx-secret"), "content-type": FORM }, body });
    const ok = await post(new URLSearchParams({ grant_type: "password", username: "AK-1", password: "k&1" }).toString());
    expect(ok.status).toBe(200);
    const json = (await ok.json()) as Record<string, unknown>;
    expect(json).toMatchObject({ token_type: "bearer", expires_in: 3600 });
    expect(typeof json["refresh_token"]).toBe("string");
    expect(standin.issuedTokens.get(json["access_token"] as string)?.clientId).toBe("cx-app");
    const wrong = await post(new URLSearchParams({ grant_type: "password", username: "AK-1", password: "nope" }).toString());
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: "invalid_grant" });
    const cc = await post("grant_type=client_credentials");
    expect(await cc.json()).toMatchObject({ error: "unsupported_grant_type" });
  });
});

describe("/api/v2/*", () => {
  it("answers an issued token, records the request with raw headers and the token's client", async () => {
    const token = await tokenFor();
    const res = await fetch(`${standin.url}/api/v2/routing/queues?divisionId=div-a1&pageSize=5`, {
      headers: { authorization: `Bearer ${token}`, "x-extra": "1" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      ok: true,
      clientId: "client-a",
      divisions: ["div-a1", "div-a2"],
      query: "divisionId=div-a1&pageSize=5",
    });
    expect(standin.received).toHaveLength(1);
    const got = standin.received[0]!;
    expect(got).toMatchObject({
      method: "GET",
      path: "/api/v2/routing/queues",
      query: "divisionId=div-a1&pageSize=5",
      status: 200,
      tokenClientId: "client-a",
    });
    expect(got.headers).toContain(`Bearer ${token}`);
    expect(standin.receivedMismatches()).toBe(0);
  });

  it("answers 401 bad.credentials for missing, unknown, expired and duplicated tokens", async () => {
    let clock = Date.now();
    const timed = await startGenesysStandin({ now: () => clock });
    try {
      timed.addClient({ clientId: "c", clientSecret: "s", divisions: ["d"], expiresIn: 300 });
      const res = await fetch(timed.tokenUrl, {
        method: "POST",
        headers: { authorization: basic("c", "s"), "content-type": FORM },
        body: "grant_type=client_credentials",
      });
      const token = ((await res.json()) as { access_token: string }).access_token;
      const call = (headers: [string, string][]) => fetch(`${timed.url}/api/v2/flows`, { headers });
      expect((await call([["authorization", `Bearer ${token}`]])).status).toBe(200);
      const expected = { message: "Invalid login credentials.", code: "bad.credentials", status: 401 };
      const joined = await call([["authorization", `Bearer ${token}, Bearer ${token}`]]);
      expect(joined.status).toBe(401);
      expect(await joined.json()).toEqual(expected);
      const twoLines = await getWithRawHeaders(`${timed.url}/api/v2/flows`, {
        authorization: [`Bearer ${token}`, `Bearer ${token}`],
      });
      expect(twoLines).toBe(401);
      expect((await call([])).status).toBe(401);
      expect((await call([["authorization", "Bearer not-issued"]])).status).toBe(401);
      clock += 301_000;
      expect((await call([["authorization", `Bearer ${token}`]])).status).toBe(401);
      expect(timed.received.map((r) => r.status)).toEqual([200, 401, 401, 401, 401, 401]);
      expect(timed.received[2]!.headers.filter((h) => h.toLowerCase() === "authorization")).toHaveLength(2);
    } finally {
      await timed.close();
    }
  });

  it("receivedMismatches counts divisionId/divisionIds values outside the token's divisions, in both forms", async () => {
    const token = await tokenFor();
    const get = (q: string) =>
      fetch(`${standin.url}/api/v2/flows?${q}`, { headers: { authorization: `Bearer ${token}` } });
    await get("divisionId=div-a1&divisionId=div-a2");
    await get("divisionId=div-a1,div-a2");
    await get("divisionIds=div-a2");
    expect(standin.receivedMismatches()).toBe(0);
    await get("divisionId=div-a1,div-b");
    await get("divisionId=div-a1&divisionId=div-b");
    await get("divisionIds=div-b");
    expect(standin.receivedMismatches()).toBe(3);
  });

  it("answers 404 ErrorBody outside /oauth/token and /api/v2", async () => {
    const res = await fetch(`${standin.url}/other`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: "not.found", status: 404 });
  });
});

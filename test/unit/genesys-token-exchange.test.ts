import { describe, expect, it } from "vitest";
import { ClientCredentials } from "../../src/secrets/credentials.js";
import { tokenUrlFor } from "../../src/profiles/genesys/regions.js";
import { GENESYS_CLOUD } from "../../src/profiles/genesys/profile.js";
import { inspect } from "node:util";

// The Genesys Cloud profile's pair: client credentials, and RFC 6749 §5 parsing with Genesys's fallback lifetime.
const buildTokenRequest = (url: string, credentials: ClientCredentials) => GENESYS_CLOUD.buildTokenRequest(url, { credentials })!;
const parseTokenResponse = GENESYS_CLOUD.parseTokenResponse;

describe("buildTokenRequest", () => {
  it("uses HTTP Basic and the bare client_credentials form body (no scope, no division)", () => {
    const req = buildTokenRequest(tokenUrlFor("mypurecloud.de"), new ClientCredentials("id-1", "s3cr:et"));
    expect(req.url.href).toBe("https://login.mypurecloud.de/oauth/token");
    expect(req.body).toBe("grant_type=client_credentials");
    expect(req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const decoded = Buffer.from(req.headers["authorization"]!.replace(/^Basic /, ""), "base64").toString();
    expect(decoded).toBe("id-1:s3cr%3Aet");
  });
});

describe("ClientCredentials", () => {
  it("never serialises its secret", () => {
    const c = new ClientCredentials("id-1", "TOPSECRET");
    expect(JSON.stringify({ c })).not.toContain("TOPSECRET");
    expect(inspect(c)).not.toContain("TOPSECRET");
    expect(`${String(c)}`).not.toContain("TOPSECRET");
  });
});

describe("parseTokenResponse", () => {
  it("reads access_token, token_type and expires_in", () => {
    expect(parseTokenResponse(200, undefined, '{"access_token":"abc","token_type":"bearer","expires_in":86400}')).toEqual({
      kind: "token",
      token: { authorization: "Bearer abc", expiresInSeconds: 86400 },
    });
  });

  it.each([
    [401, undefined, '{"error":"invalid_client","description":"authentication failed","error_description":"authentication failed"}', { code: "invalid_client", httpStatus: 401, oauthError: "invalid_client" }],
    [400, undefined, '{"error":"invalid_client"}', { code: "invalid_client", httpStatus: 400, oauthError: "invalid_client" }],
    [429, "17", '{"message":"slow down","code":"too.many.requests.retry.after","status":429}', { code: "rate_limited", httpStatus: 429, retryAfterSeconds: 17 }],
    [429, undefined, "", { code: "rate_limited", httpStatus: 429 }],
    [503, undefined, "<html>", { code: "unavailable", httpStatus: 503 }],
    [200, undefined, "not json", { code: "bad_response", httpStatus: 200 }],
    [200, undefined, '{"access_token":""}', { code: "bad_response", httpStatus: 200 }],
    [200, undefined, '{"access_token":"a\\r\\nx-evil: 1"}', { code: "bad_response", httpStatus: 200 }],
    [200, undefined, '{"access_token":"a","token_type":"mac"}', { code: "bad_response", httpStatus: 200, oauthError: "token_type" }],
  ])("HTTP %i -> %j", (status, retryAfter, body, error) => {
    expect(parseTokenResponse(status, retryAfter, body)).toEqual({ kind: "error", error });
  });

  it("falls back to the shortest Genesys lifetime when expires_in is missing", () => {
    expect(parseTokenResponse(200, undefined, '{"access_token":"abc"}')).toMatchObject({ token: { expiresInSeconds: 300 } });
  });
});

import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { buildEnvironments, parseConfig } from "../../src/config/index.js";
import { GENESYS_CLOUD } from "../../src/profiles/genesys/profile.js";
import { profileById } from "../../src/profiles/index.js";
import { CXONE_TOKEN_URL, NICE_CXONE } from "../../src/profiles/nice-cxone/profile.js";
import { AccessKey, ClientCredentials } from "../../src/secrets/credentials.js";
import { recordFromFields } from "../../src/secrets/record.js";

const record = (fields: Record<string, unknown>) => {
  const r = recordFromFields(fields);
  if (typeof r === "string") throw new Error(r);
  return r;
};

describe("NICE CXone: the password grant request", () => {
  it("sends the client id/secret as HTTP Basic and the access key as username/password, form-urlencoded", () => {
    const req = NICE_CXONE.buildTokenRequest(CXONE_TOKEN_URL, record({ client_id: "app-1", client_secret: "cs:1", access_key_id: "AK+ID", access_key_secret: "s&e=c r%t" }));
    expect(req).toBeDefined();
    expect(req!.url.href).toBe("https://cxone.niceincontact.com/auth/token");
    expect(req!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Buffer.from(req!.headers["authorization"]!.replace(/^Basic /, ""), "base64").toString()).toBe("app-1:cs%3A1");
    const form = new URLSearchParams(req!.body);
    expect([...form.keys()]).toEqual(["grant_type", "username", "password"]);
    expect(form.get("grant_type")).toBe("password");
    expect(form.get("username")).toBe("AK+ID");
    expect(form.get("password")).toBe("s&e=c r%t");
  });

  it("has no request for a record without an access key (the check is denied credentials_missing)", () => {
    expect(NICE_CXONE.buildTokenRequest(CXONE_TOKEN_URL, record({ client_id: "a", client_secret: "b" }))).toBeUndefined();
    // The Genesys Cloud profile ignores an access key: its grant is client credentials.
    const g = GENESYS_CLOUD.buildTokenRequest("https://login.mypurecloud.de/oauth/token", record({ client_id: "a", client_secret: "b", access_key_id: "k", access_key_secret: "s" }));
    expect(g!.body).toBe("grant_type=client_credentials");
  });

  it("reads the token answer, and treats invalid_grant (a wrong or revoked access key) as rejected credentials", () => {
    const ok = '{"access_token":"eyJ.a.b","token_type":"bearer","expires_in":3600,"refresh_token":"r","id_token":"i","issued_token_type":"urn:ietf:params:oauth:token-type:access_token"}';
    expect(NICE_CXONE.parseTokenResponse(200, undefined, ok)).toEqual({ kind: "token", token: { authorization: "Bearer eyJ.a.b", expiresInSeconds: 3600 } });
    expect(NICE_CXONE.parseTokenResponse(200, undefined, '{"access_token":"x"}')).toEqual({ kind: "token", token: { authorization: "Bearer x", expiresInSeconds: 300 } });
    expect(NICE_CXONE.parseTokenResponse(400, undefined, '{"error":"invalid_grant"}')).toEqual({ kind: "error", error: { code: "invalid_client", httpStatus: 400, oauthError: "invalid_grant" } });
    expect(NICE_CXONE.parseTokenResponse(401, undefined, '{"error":"invalid_client"}')).toEqual({ kind: "error", error: { code: "invalid_client", httpStatus: 401, oauthError: "invalid_client" } });
    expect(NICE_CXONE.parseTokenResponse(429, "7", "")).toEqual({ kind: "error", error: { code: "rate_limited", httpStatus: 429, retryAfterSeconds: 7 } });
    expect(NICE_CXONE.parseTokenResponse(503, undefined, "")).toEqual({ kind: "error", error: { code: "unavailable", httpStatus: 503 } });
    // Genesys Cloud keeps invalid_grant as a bad response: its client-credentials grant has no resource owner.
    expect(GENESYS_CLOUD.parseTokenResponse(400, undefined, '{"error":"invalid_grant"}')).toEqual({ kind: "error", error: { code: "bad_response", httpStatus: 400, oauthError: "invalid_grant" } });
  });

  it("has no division parameter and no built-in environments", () => {
    expect(NICE_CXONE.divisionKeys).toBeUndefined();
    expect(NICE_CXONE.divisionRoutes).toEqual([]);
    expect(NICE_CXONE.knownEnvironments).toEqual([]);
    expect(NICE_CXONE.apiHostFor("na1.niceincontact.com")).toBeUndefined();
  });
});

describe("the access key in a secret record", () => {
  it("is read from access_key_id / access_key_secret, both or neither", () => {
    const r = record({ client_id: "a", client_secret: "b", access_key_id: "k", access_key_secret: "s", profile: "nice-cxone" });
    expect(r.accessKey?.id).toBe("k");
    expect(r.profile).toBe("nice-cxone");
    expect(recordFromFields({ client_id: "a", client_secret: "b", access_key_id: "k" })).toMatch(/only one of access_key_id and access_key_secret/);
    expect(record({ client_id: "a", client_secret: "b" }).accessKey).toBeUndefined();
  });

  it("never serialises its secret (JSON, util.inspect, String), nor does the record holding it", () => {
    const key = new AccessKey("k-1", "TOPSECRET-AK");
    expect(JSON.stringify({ key })).not.toContain("TOPSECRET");
    expect(inspect(key)).not.toContain("TOPSECRET");
    expect(String(key)).not.toContain("TOPSECRET");
    const r = record({ client_id: "a", client_secret: "TOPSECRET-CS", access_key_id: "k", access_key_secret: "TOPSECRET-AK" });
    expect(JSON.stringify(r)).not.toContain("TOPSECRET");
    expect(inspect(r, { depth: 5 })).not.toContain("TOPSECRET");
    expect(new ClientCredentials("a", "b").toJSON()).toEqual({ clientId: "a", clientSecret: "[redacted]" });
  });
});

describe("config: profiles and environments", () => {
  const base = { secrets: { backend: "file", file: { directory: "/x" } } };
  const problems = (raw: unknown): string => {
    try {
      parseConfig(raw);
      return "";
    } catch (err) {
      return String(err);
    }
  };

  it("a CXone environment names its API host; a tenant's profile must be its environment's", () => {
    const environments = {
      "mypurecloud.de": {},
      "na1.niceincontact.com": { profile: "nice-cxone", apiHost: "api-na1.niceincontact.com" },
    };
    const c = parseConfig({
      ...base,
      environments,
      tenants: [
        { id: "acme", divisions: ["d"], environment: "mypurecloud.de" },
        { id: "umbrella", divisions: ["bu-1"], environment: "na1.niceincontact.com", profile: "nice-cxone" },
      ],
    });
    const table = buildEnvironments(c.environments);
    expect(table.get("na1.niceincontact.com")).toMatchObject({ profile: NICE_CXONE, tokenUrl: CXONE_TOKEN_URL, apiHost: "api-na1.niceincontact.com" });
    expect(table.get("mypurecloud.de")).toMatchObject({ profile: GENESYS_CLOUD, tokenUrl: "https://login.mypurecloud.de/oauth/token", apiHost: "api.mypurecloud.de" });

    expect(problems({ ...base, environments: { "na1.niceincontact.com": { profile: "nice-cxone" } }, tenants: [{ id: "u", divisions: ["b"], environment: "na1.niceincontact.com", profile: "nice-cxone" }] })).toMatch(
      /environments\.na1\.niceincontact\.com\.apiHost: required for profile nice-cxone/,
    );
    expect(problems({ ...base, environments, tenants: [{ id: "u", divisions: ["b"], environment: "na1.niceincontact.com" }] })).toMatch(
      /tenants\.0\.profile: environment na1\.niceincontact\.com belongs to profile nice-cxone, not genesys-cloud/,
    );
    expect(problems({ ...base, environments, tenants: [{ id: "u", divisions: ["b"], environment: "mypurecloud.de", profile: "nice-cxone" }] })).toMatch(
      /belongs to profile genesys-cloud, not nice-cxone/,
    );
    expect(problems({ ...base, tenants: [{ id: "u", divisions: ["b"], environment: "mypurecloud.de", profile: "okta" }] })).toMatch(/tenants\.0\.profile/);
  });

  it("the default environments are the Genesys Cloud regions only, and a tenant without a profile is Genesys Cloud", () => {
    const table = buildEnvironments(undefined);
    expect(table.size).toBe(GENESYS_CLOUD.knownEnvironments.length);
    expect([...table.values()].every((e) => e.profile === GENESYS_CLOUD)).toBe(true);
    expect(profileById(undefined)).toBe(GENESYS_CLOUD);
    expect(profileById("nice-cxone")).toBe(NICE_CXONE);
    expect(profileById("toString")).toBeUndefined();
  });
});

// A NICE CXone tenant's token through the real HTTP token endpoint and token provider, against the stand-in's
// CXone behaviour (password grant with the API user's access key), beside a Genesys Cloud tenant.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTokenSourceError } from "../../src/tokens/token-source-errors.js";
import { buildEnvironments, parseConfig } from "../../src/config/index.js";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import { recordFromFields } from "../../src/secrets/record.js";
import type { SecretReadResult, SecretStore } from "../../src/secrets/secret-store.js";
import { tenantFromConfig } from "../../src/tenants/registry.js";
import { HttpTokenEndpoint } from "../../src/tokens/token-endpoint.js";
import { TokenProvider } from "../../src/tokens/token-provider.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";

class FieldsStore implements SecretStore {
  constructor(readonly records: Record<string, Record<string, unknown>>) {}
  async read(key: string): Promise<SecretReadResult> {
    const fields = this.records[key];
    if (!fields) return { kind: "not_found" };
    const record = recordFromFields(fields);
    return typeof record === "string" ? { kind: "unavailable", detail: record } : { kind: "found", record };
  }
}

let standin: GenesysStandin;
beforeAll(async () => {
  standin = await startGenesysStandin();
  standin.addClient({ clientId: "cx-app", clientSecret: "cx-secret", divisions: ["bu-1"], accessKey: { id: "AK-1", secret: "ak secret&1" } });
  standin.addClient({ clientId: "g-client", clientSecret: "g-secret", divisions: ["div-g"] });
});
afterAll(() => standin.close());

function setup(records: Record<string, Record<string, unknown>>) {
  const config = parseConfig({
    secrets: { backend: "file", file: { directory: "/nonexistent" } },
    allowPlainHttpLoopbackForTesting: true,
    environments: {
      "mypurecloud.de": { tokenUrl: standin.tokenUrl },
      "na1.niceincontact.com": { profile: "nice-cxone", apiHost: "api-na1.niceincontact.com", tokenUrl: standin.cxoneTokenUrl },
    },
    tenants: [
      { id: "acme", divisions: ["div-g"], environment: "mypurecloud.de" },
      { id: "umbrella", divisions: ["bu-1"], environment: "na1.niceincontact.com", profile: "nice-cxone" },
    ],
  });
  const environments = buildEnvironments(config.environments);
  const [acme, umbrella] = config.tenants.map((t) => tenantFromConfig(t, environments));
  const store = new FieldsStore(records);
  const secrets = new CachedSecretStore(store, { ttlMs: 60_000, negativeTtlMs: 1000, maxStaleMs: 0, max: 10, loadTimeoutMs: 2000 });
  const endpoint = new HttpTokenEndpoint({ timeoutMs: 2000 });
  const tokens = new TokenProvider({ endpoint, secrets, skewSeconds: 60, refreshAt: 0.8, max: 10, requestTimeoutMs: 2000, rejectedBackoffSeconds: 30 });
  return { acme: acme!, umbrella: umbrella!, store, secrets, tokens, endpoint };
}

describe("a CXone tenant beside a Genesys Cloud tenant", () => {
  it("mints with the password grant at /auth/token and the client-credentials grant at /oauth/token", async () => {
    standin.reset();
    const { acme, umbrella, tokens, endpoint } = setup({
      acme: { client_id: "g-client", client_secret: "g-secret" },
      umbrella: { client_id: "cx-app", client_secret: "cx-secret", access_key_id: "AK-1", access_key_secret: "ak secret&1" },
    });
    try {
      const u = await tokens.get(umbrella, AbortSignal.timeout(5000));
      const a = await tokens.get(acme, AbortSignal.timeout(5000));
      if (isTokenSourceError(u) || isTokenSourceError(a)) throw new Error(`denied: ${JSON.stringify([u, a])}`);
      const token = (auth: string) => auth.replace(/^Bearer /, "");
      expect(standin.issuedTokens.get(token(u.entry.authorization))?.clientId).toBe("cx-app");
      expect(standin.issuedTokens.get(token(a.entry.authorization))?.clientId).toBe("g-client");
      const calls = standin.tokenCalls.map((c) => ({ client: c.clientId, grant: new URLSearchParams(c.body ?? "").get("grant_type"), status: c.status }));
      expect(calls).toEqual([
        { client: "cx-app", grant: "password", status: 200 },
        { client: "g-client", grant: "client_credentials", status: 200 },
      ]);
      // CXone tokens live 3600 s at the stand-in: the entry expires within that (minus the skew), not 24 h.
      expect(u.entry.expiresAtMs - Date.now()).toBeLessThanOrEqual(3600_000);
      // A second check is a cache hit: no further token request.
      expect(tokens.peek(umbrella)).toBe(u.entry);
      expect(standin.tokenRequestsFor("cx-app")).toBe(1);
    } finally {
      endpoint.close();
    }
  });

  it("a record moved to another API user mints a token for that user once the secret cache sees it", async () => {
    standin.reset();
    standin.addClient({ clientId: "cx-move", clientSecret: "cx-secret", divisions: ["bu-1"], accessKey: { id: "AK-OLD", secret: "old user" } });
    const { umbrella, store, secrets, tokens, endpoint } = setup({
      umbrella: { client_id: "cx-move", client_secret: "cx-secret", access_key_id: "AK-OLD", access_key_secret: "old user" },
    });
    try {
      const subject = (lookup: Awaited<ReturnType<typeof tokens.get>>): string | undefined =>
        isTokenSourceError(lookup) ? lookup.code : standin.issuedTokens.get(lookup.entry.authorization.replace(/^Bearer /, ""))?.accessKeyId;
      expect(subject(await tokens.get(umbrella, AbortSignal.timeout(5000)))).toBe("AK-OLD");
      // The operator moves the tenant to another API user under the same application (same client id).
      standin.setAccessKey("cx-move", { id: "AK-NEW", secret: "new user" });
      store.records["umbrella"] = { client_id: "cx-move", client_secret: "cx-secret", access_key_id: "AK-NEW", access_key_secret: "new user" };
      // Until the secret cache has seen the change the old user's token is served (nothing newer is known) ...
      expect(tokens.peek(umbrella)).toBeDefined();
      // ... once it has (its background revalidation, within secrets.cacheTtlSeconds), the next check mints anew.
      await secrets.read("umbrella", AbortSignal.timeout(5000), { fresh: true });
      expect(tokens.peek(umbrella)).toBeUndefined();
      expect(subject(await tokens.get(umbrella, AbortSignal.timeout(5000)))).toBe("AK-NEW");
      expect(standin.tokenCalls.map((c) => [c.clientId, c.status])).toEqual([
        ["cx-move", 200],
        ["cx-move", 200],
      ]);
    } finally {
      endpoint.close();
    }
  });

  it("a rotated access key is re-read once after invalid_grant; a record without one is credentials_missing", async () => {
    standin.reset();
    const { umbrella, store, secrets, tokens, endpoint } = setup({
      umbrella: { client_id: "cx-app", client_secret: "cx-secret", access_key_id: "AK-1", access_key_secret: "old" },
    });
    try {
      // The cache holds the old key; the store already has the new one when the stand-in refuses the old.
      await secrets.read("umbrella", AbortSignal.timeout(5000));
      store.records["umbrella"] = { client_id: "cx-app", client_secret: "cx-secret", access_key_id: "AK-1", access_key_secret: "ak secret&1" };
      const u = await tokens.get(umbrella, AbortSignal.timeout(5000));
      expect(isTokenSourceError(u)).toBe(false);
      expect(standin.tokenCalls.map((c) => c.status)).toEqual([400, 200]);

      const bare = setup({ umbrella: { client_id: "cx-app", client_secret: "cx-secret" } });
      try {
        expect(await bare.tokens.get(bare.umbrella, AbortSignal.timeout(5000))).toEqual({ kind: "token_source", code: "credentials_missing" });
      } finally {
        bare.endpoint.close();
      }
      expect(standin.tokenCalls).toHaveLength(2);
    } finally {
      endpoint.close();
    }
  });
});

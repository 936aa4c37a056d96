// The official Genesys Cloud SDKs (PyPI PureCloudPlatformClientV2, npm purecloud-platform-client-v2), unmodified, set
// to the scopegate gateway with their gateway setting and a placeholder access token: every call completes with the
// tenant's real token at the (TLS) region, and the app never holds that token.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSdkApp, type SdkLanguage, ALL_CALLS_OK, SDK_APP_PATHS } from "../support/sdk-apps.js";
import { rawHeader, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    regions: [{ env: "mypurecloud.com", ip: "127.0.0.2" }, { env: "mypurecloud.de", ip: "127.0.0.3", http2: true }],
    tenants: [
      { id: "acme", divisions: ["div-acme-1", "div-acme-2"], clientId: "acme-client", clientSecret: "acme-SDK-secret", via: "config" },
      { id: "globex", divisions: ["div-globex"], clientId: "globex-client", clientSecret: "globex-SDK-secret", via: "config", environment: "mypurecloud.de" },
    ],
  });
}, 120_000);
afterAll(async () => stack?.stop());

describe.each(["python", "javascript"] as SdkLanguage[])("the %s SDK through the sidecar gateway", (language) => {
  it("lists queues (with and without a division), scripts and users/me with the tenant's token, in its region", async () => {
    const region = stack.standins.get("mypurecloud.com")!;
    const before = region.received.length;
    const out = await runSdkApp(language, { port: stack.envoy.port, tenant: "acme", division: "div-acme-2" });
    expect(out.calls).toEqual(ALL_CALLS_OK);
    const got = region.received.slice(before);
    expect(got.map((r) => r.path)).toEqual(SDK_APP_PATHS);
    for (const r of got) {
      expect(r.tokenClientId).toBe("acme-client");
      expect(rawHeader(r.headers, "authorization")).toHaveLength(1);
      expect(r.sni).toBe("api.mypurecloud.com");
    }
    const q = got.map((r) => new URLSearchParams(r.query));
    expect(q[0]!.get("divisionId")).toBe("div-acme-1,div-acme-2");
    expect(q[1]!.get("divisionId")).toBe("div-acme-2"); // narrowed to what the app asked for, within the tenant's
    expect(q[2]!.get("divisionIds")).toBe("div-acme-1,div-acme-2");
    expect(q[3]!.has("divisionId")).toBe(false);
    // The app still holds its placeholder: the real token exists only between Envoy and Genesys.
    expect(out.heldToken).toBe("placeholder");
  });

  it("a division of another tenant is refused and nothing reaches any region", async () => {
    const total = () => [...stack.standins.values()].reduce((n, s) => n + s.received.length, 0);
    const before = total();
    const out = await runSdkApp(language, { port: stack.envoy.port, tenant: "acme", division: "div-globex" });
    expect(out.calls.find((c) => c.name === "queues-division")?.status).toBe(403);
    expect(total()).toBe(before + 3); // the three other calls
  });
});

import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { checkRequestPicker } from "../../src/authz/authorizer.js";
import { buildEnvironments, DEFAULT_TENANT_HEADER, parseConfig } from "../../src/config/index.js";
import { clusterNameFor, renderEgressConfig } from "../../src/egress/envoy-config.js";
import { GENESYS_ENVIRONMENTS } from "../../src/profiles/genesys/regions.js";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import { ClientCredentials } from "../../src/secrets/credentials.js";
import type { SecretReadResult, SecretStore, TenantRecord } from "../../src/secrets/secret-store.js";
import { REGISTRY_ERRORS, TenantRegistry } from "../../src/tenants/registry.js";
import { harness } from "../support/authorizer-harness.js";
import { checkRequest } from "../support/check-requests.js";

describe("the routing header", () => {
  it("is set on every allow to the tenant's environment, overwriting, and never removed", async () => {
    const { check } = harness();
    const o = await check(checkRequest({ path: "/api/v2/flows", headers: { "x-tenant-id": "acme", "x-scopegate-upstream": "mypurecloud.com" } }));
    expect(o.decision).toBe("allow");
    if (o.response.httpResponse?.$case !== "okResponse") throw new Error("not ok");
    const ok = o.response.httpResponse.value;
    const routing = ok.headers.find((h) => h.header?.key === "x-scopegate-upstream");
    expect(routing?.header?.value).toBe("mypurecloud.de"); // acme's environment in the harness
    expect(routing?.append).toBe(false);
    expect(ok.headersToRemove).not.toContain("x-scopegate-upstream");
  });
});

describe("egress.verifyHost (the Istio egress gateway routes by Host)", () => {
  it("allows a request for api.<tenant environment>, with or without a port, in any case", async () => {
    const { check } = harness({ verifyHost: true });
    for (const host of ["api.mypurecloud.de", "API.MyPureCloud.de:80", "api.mypurecloud.de:443"]) {
      expect((await check(checkRequest({ path: "/api/v2/flows", host, headers: { "x-tenant-id": "acme" } }))).decision).toBe("allow");
    }
  });

  it("denies upstream_mismatch when the Host is another region's or anything else", async () => {
    const { check } = harness({ verifyHost: true });
    for (const host of ["api.mypurecloud.com", "api.mypurecloud.de.evil.example", "127.0.0.1:8080", ""]) {
      const o = await check(checkRequest({ path: "/api/v2/flows", host, headers: { "x-tenant-id": "acme" } }));
      expect(o.reason).toBe("upstream_mismatch");
    }
  });

  it("is off by default: the sidecar and gateway configs choose the upstream themselves", async () => {
    const { check } = harness();
    expect((await check(checkRequest({ path: "/api/v2/flows", host: "127.0.0.1:8080", headers: { "x-tenant-id": "acme" } }))).decision).toBe("allow");
  });
});

class Records implements SecretStore {
  constructor(readonly records: Record<string, TenantRecord>) {}
  async read(key: string): Promise<SecretReadResult> {
    const record = this.records[key];
    return record ? { kind: "found", record } : { kind: "not_found" };
  }
}

describe("a Vault record cannot choose where credentials go", () => {
  const creds = new ClientCredentials("id", "secret");
  const registry = (records: Record<string, TenantRecord>, environments?: Record<string, { tokenUrl?: string }>) => {
    const store = new CachedSecretStore(new Records(records), { ttlMs: 1000, negativeTtlMs: 1000, maxStaleMs: 0, max: 10, loadTimeoutMs: 100 });
    return new TenantRegistry([], buildEnvironments(environments), { enabled: true, store });
  };
  const resolve = (r: TenantRegistry, id: string) => r.resolve(id, AbortSignal.timeout(1000));

  it("a record naming an allowed environment gets that environment's token URL and API host", async () => {
    const t = await resolve(registry({ acme: { credentials: creds, divisions: ["d"], environment: "mypurecloud.de" } }), "acme");
    expect(t).toMatchObject({ environment: "mypurecloud.de", tokenUrl: "https://login.mypurecloud.de/oauth/token", apiHost: "api.mypurecloud.de" });
  });

  it.each([
    ["an environment outside the table", { environment: "attacker.example" }],
    ["a token_url of its own", { environment: "mypurecloud.de", tokenUrl: "https://login.attacker.example/oauth/token" }],
    ["a plain-http loopback token_url (e.g. Envoy's admin port)", { environment: "mypurecloud.de", tokenUrl: "http://127.0.0.1:9901/quitquitquit" }],
    ["a token_url but no environment", { tokenUrl: "https://login.mypurecloud.de/oauth/token" }],
  ])("a record with %s defines no tenant", async (_what, fields) => {
    expect(await resolve(registry({ acme: { credentials: creds, divisions: ["d"], ...fields } }), "acme")).toBe(REGISTRY_ERRORS.unknown);
  });

  it("a token_url equal to the environment's own is accepted", async () => {
    const t = await resolve(
      registry({ acme: { credentials: creds, divisions: ["d"], environment: "mypurecloud.de", tokenUrl: "https://login.mypurecloud.de/oauth/token" } }),
      "acme",
    );
    expect(t).toMatchObject({ environment: "mypurecloud.de" });
  });

  it("a configured environments table replaces the regions: others are refused", async () => {
    const r = registry(
      { acme: { credentials: creds, divisions: ["d"], environment: "mypurecloud.de" }, ie: { credentials: creds, divisions: ["d"], environment: "mypurecloud.ie" } },
      { "mypurecloud.ie": {} },
    );
    expect(await resolve(r, "acme")).toBe(REGISTRY_ERRORS.unknown);
    expect(await resolve(r, "ie")).toMatchObject({ environment: "mypurecloud.ie" });
  });
});

describe("renderEgressConfig", () => {
  const routesOf = (yaml: string) => {
    const c = YAML.parse(yaml);
    return c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes as any[];
  };

  it("has one exact-match route and one TLS cluster per environment, then a catch-all that goes nowhere", () => {
    const yaml = renderEgressConfig({ layout: "sidecar", environments: ["mypurecloud.de", "usw2.pure.cloud"] });
    const routes = routesOf(yaml);
    expect(routes.map((r) => r.name)).toEqual(["mypurecloud.de", "usw2.pure.cloud", "login", "not-routed"]);
    expect(routes[1].match.headers).toEqual([{ name: "x-scopegate-upstream", string_match: { exact: "usw2.pure.cloud" } }]);
    expect(routes[1].route).toMatchObject({ cluster: "genesys_usw2_pure_cloud", host_rewrite_literal: "api.usw2.pure.cloud" });
    expect(routes[3].direct_response.status).toBe(404);
    expect(routes[3].route).toBeUndefined();
    const clusters = YAML.parse(yaml).static_resources.clusters as any[];
    const usw2 = clusters.find((c) => c.name === clusterNameFor("usw2.pure.cloud"));
    const tls = usw2.transport_socket.typed_config;
    expect(tls.sni).toBe("api.usw2.pure.cloud");
    expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: "DNS", matcher: { exact: "api.usw2.pure.cloud" } }]);
  });

  it("routes another profile's environment to its configured API host, under its own path prefix", () => {
    const yaml = renderEgressConfig({
      layout: "sidecar",
      environments: ["mypurecloud.de", { name: "na1.niceincontact.com", apiHost: "api-na1.niceincontact.com", pathPrefix: "/incontactapi/" }],
    });
    const routes = routesOf(yaml);
    expect(routes.map((r) => r.name)).toEqual(["mypurecloud.de", "na1.niceincontact.com", "login", "not-routed"]);
    expect(routes[0].match.prefix).toBe("/api/v2/");
    expect(routes[1].match).toEqual({ prefix: "/incontactapi/", headers: [{ name: "x-scopegate-upstream", string_match: { exact: "na1.niceincontact.com" } }] });
    expect(routes[1].route).toMatchObject({ cluster: clusterNameFor("na1.niceincontact.com"), host_rewrite_literal: "api-na1.niceincontact.com" });
    const cluster = (YAML.parse(yaml).static_resources.clusters as any[]).find((c) => c.name === clusterNameFor("na1.niceincontact.com"));
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: "api-na1.niceincontact.com", port_value: 443 });
    const tls = cluster.transport_socket.typed_config;
    expect(tls.sni).toBe("api-na1.niceincontact.com");
    expect(tls.common_tls_context.validation_context.match_typed_subject_alt_names).toEqual([{ san_type: "DNS", matcher: { exact: "api-na1.niceincontact.com" } }]);
  });

  it("removes any caller copy of the routing header before routing, and re-matches after the check", () => {
    const c = YAML.parse(renderEgressConfig({ layout: "gateway", environments: GENESYS_ENVIRONMENTS, upstreamHeader: "x-route" }));
    const hcm = c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    expect(hcm.early_header_mutation_extensions[0].typed_config.mutations).toEqual([{ remove: "x-route" }]);
    const extAuthz = hcm.http_filters[0].typed_config;
    expect(extAuthz).toMatchObject({ clear_route_cache: true, failure_mode_allow: false });
    expect(c.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.require_client_certificate).toBe(true);
    expect(routesOf(YAML.stringify(c))).toHaveLength(GENESYS_ENVIRONMENTS.length + 2);
  });

  it("sends Check only the headers the picker reads: the config's tenant header, x-request-id and authorization (ext_authz allowed_headers)", () => {
    for (const layout of ["sidecar", "gateway"] as const) {
      const extAuthzOf = (yaml: string) => YAML.parse(yaml).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config;
      const shipped = extAuthzOf(renderEgressConfig({ layout, environments: GENESYS_ENVIRONMENTS }));
      expect(shipped.allowed_headers).toEqual({ patterns: checkRequestPicker(DEFAULT_TENANT_HEADER).names.map((exact) => ({ exact })) });
      expect(shipped.allowed_headers.patterns.map((p: { exact: string }) => p.exact).sort()).toEqual(["authorization", "x-request-id", "x-tenant-id"]);
      const own = extAuthzOf(renderEgressConfig({ layout, environments: GENESYS_ENVIRONMENTS, tenantHeader: "x-client-org" }));
      expect(own.allowed_headers.patterns).toContainEqual({ exact: "x-client-org" });
      expect(own.allowed_headers.patterns).not.toContainEqual({ exact: "x-tenant-id" });
    }
  });

  it("has a login route that goes nowhere upstream and hands only the login's form body (bounded) to Check", () => {
    const routes = routesOf(renderEgressConfig({ layout: "sidecar", environments: ["mypurecloud.de"] }));
    const login = routes.find((r) => r.name === "login");
    expect(login.match).toEqual({ safe_regex: { regex: "^(/[A-Za-z0-9._~-]+)*/oauth/token$" }, headers: [{ name: ":method", string_match: { exact: "POST" } }] });
    expect(login.route).toBeUndefined();
    expect(login.direct_response.status).toBe(404);
    expect(login.typed_per_filter_config["envoy.filters.http.ext_authz"].check_settings.with_request_body).toEqual({ max_request_bytes: 4096, allow_partial_message: false });
    // No other route buffers a body.
    expect(routes.filter((r) => r.typed_per_filter_config !== undefined).map((r) => r.name)).toEqual(["login"]);
    const login_regex = new RegExp(login.match.safe_regex.regex);
    for (const p of ["/oauth/token", "/login/oauth/token", "/a/b.c/oauth/token"]) expect(login_regex.test(p)).toBe(true);
    for (const p of ["/oauth/tokens", "/oauth/token/x", "oauth/token", "//oauth/token"]) expect(login_regex.test(p)).toBe(false);
  });
});

describe("config", () => {
  it("egress defaults", () => {
    const c = parseConfig({ secrets: { backend: "file", file: { directory: "/x" } }, tenants: [{ id: "a", divisions: ["d"], environment: "mypurecloud.de" }] });
    expect(c.egress).toEqual({ upstreamHeader: "x-scopegate-upstream", verifyHost: false });
    expect(c.allowPlainHttpLoopbackForTesting).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { checkListenerAuth, ConfigError, parseConfigText, socketModeOf } from "../../src/config/index.js";

const minimal = `
secrets:
  backend: file
  file: { directory: /etc/scopegate/secrets }
tenants:
  - id: acme
    divisions: [div-1]
    environment: mypurecloud.de
`;

function problems(text: string): string[] {
  try {
    parseConfigText(text, "test.yaml");
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe("config", () => {
  it("fills defaults and freezes the result", () => {
    const c = parseConfigText(minimal);
    // Check only on the unix socket unless a TCP listener is configured (issue 11); the admin socket beside it.
    expect(c.listen.tcp).toBeNull();
    expect(c.listen.unixSocket).toBe("/run/scopegate/authz.sock");
    expect(socketModeOf(c.listen)).toBe(0o600);
    expect(c.admin.socket).toBe("/run/scopegate/admin.sock");
    expect(c.tenantHeader).toBe("x-tenant-id");
    expect(c.tokens.skewSeconds).toBe(60);
    expect(c.routes.mode).toBe("catalog");
    expect(Object.isFrozen(c.tenants[0])).toBe(true);
  });

  it("lists every problem, not just the first", () => {
    const p = problems(`
listen: { tcp: "nope" }
tenantIdPattern: "("
secrets: { backend: vault }
tenants:
  - { id: acme, divisions: [], environment: mypurecloud.de }
  - { id: acme, divisions: [d], environment: mypurecloud.de, tokenUrl: "https://x/oauth/token" }
  - { id: Bad!, divisions: [d], environment: evil.example.com }
unknownKey: 1
`);
    const text = p.join("\n");
    expect(text).toMatch(/listen\.tcp/);
    expect(text).toMatch(/tenantIdPattern/);
    expect(text).toMatch(/secrets\.vault: required/);
    expect(text).toMatch(/tenants\.0\.divisions/);
    expect(text).toMatch(/tenants\.1.*tokenUrl|Unrecognized key.*tokenUrl/is);
    expect(text).toMatch(/tenants\.2\.environment: not one of the allowed environments/);
    expect(text).toMatch(/unknownKey|Unrecognized/i);
    expect(p.length).toBeGreaterThanOrEqual(6);
  });

  it("takes token URLs from the environments table only: https, or plain-http loopback behind the testing flag", () => {
    const withUrl = (url: string, flag = false) =>
      `${minimal}environments:\n  mypurecloud.de: { tokenUrl: "${url}" }\n${flag ? "allowPlainHttpLoopbackForTesting: true\n" : ""}`;
    expect(problems(withUrl("https://login.example.com/oauth/token"))).toEqual([]);
    expect(problems(withUrl("http://127.0.0.1:8080/oauth/token")).join()).toMatch(/needs allowPlainHttpLoopbackForTesting/);
    expect(problems(withUrl("http://127.0.0.1:8080/oauth/token", true))).toEqual([]);
    expect(problems(withUrl("http://login.example.com/oauth/token", true)).join()).toMatch(/must be https/);
    expect(problems(withUrl("https://user:pw@login.example.com/oauth/token")).join()).toMatch(/must be https/);
  });

  it("allows every Genesys Cloud region by default, and only the listed environments when given", () => {
    expect(problems(minimal.replace("mypurecloud.de", "apne3.pure.cloud"))).toEqual([]);
    expect(problems(minimal.replace("mypurecloud.de", "login.attacker.example")).join()).toMatch(/not one of the allowed environments/);
    const onlyIe = `${minimal}environments:\n  mypurecloud.ie: {}\n`;
    expect(problems(onlyIe).join()).toMatch(/tenants\.0\.environment: not one of the allowed environments/);
  });

  it("reports YAML syntax errors as config problems", () => {
    expect(problems("tenants: [").join()).toMatch(/YAML/);
  });

  it("keeps secrets out of config: a Vault token is a reference", () => {
    const p = problems(minimal.replace("backend: file", "backend: vault\n  vault: { address: 'https://vault:8200', auth: { method: token, token: 's.abc' } }"));
    expect(p.join()).toMatch(/secrets\.vault\.auth\.token/);
  });

  it("callers.mode mesh refuses configured tenants without a caller binding, listing them (issue 11, finding 2)", () => {
    const mesh = `${minimal}
  - { id: bound, divisions: [d], environment: mypurecloud.de, allowedNamespaces: [bound] }
  - { id: mapped, divisions: [d], environment: mypurecloud.de }
  - { id: loose, divisions: [d], environment: mypurecloud.de }
callers:
  mode: mesh
  principalTenants: { "spiffe://cluster.local/ns/m/sa/x": mapped }
`;
    const p = problems(mesh).join("\n");
    expect(p).toMatch(/caller binding/);
    expect(p).toMatch(/none for: acme, loose$/m);
    expect(problems(mesh.replace("mode: mesh", "mode: local"))).toEqual([]);
  });

  it("callers.trustDomain defaults to cluster.local; localIdentity is for local mode only", () => {
    const c = parseConfigText(minimal);
    expect(c.callers.trustDomain).toBe("cluster.local");
    expect(c.callers.localIdentity).toBeUndefined();
    expect(problems(`${minimal}callers: { trustDomain: "Evil/Domain" }\n`).join()).toMatch(/trustDomain/);
    expect(problems(`${minimal}callers: { localIdentity: "spiffe://cluster.local/ns/acme/sa/etl" }\n`)).toEqual([]);
    const mesh = `${minimal.replace("environment: mypurecloud.de", "environment: mypurecloud.de\n    allowedNamespaces: [acme]")}callers: { mode: mesh, localIdentity: "spiffe://cluster.local/ns/acme/sa/etl" }\n`;
    expect(problems(mesh).join()).toMatch(/callers\.localIdentity: applies to callers\.mode local only/);
  });

  it("accepts discovery.defaultBinding and tokens.maxAgeSeconds", () => {
    const c = parseConfigText(`${minimal}discovery: { fromSecretStore: true, defaultBinding: { allowedNamespaces: [etl] } }\ntokens: { maxAgeSeconds: 900 }\n`);
    expect(c.discovery.defaultBinding).toEqual({ allowedPrincipals: [], allowedNamespaces: ["etl"] });
    expect(c.tokens.maxAgeSeconds).toBe(900);
    expect(parseConfigText(minimal).tokens.maxAgeSeconds).toBeUndefined();
    expect(problems(`${minimal}tokens: { maxAgeSeconds: 0 }\n`).join()).toMatch(/maxAgeSeconds/);
  });

  describe("who can call Check", () => {
    // The tenant is bound, so mesh mode has nothing to say about it: only the listener rules are under test.
    const bound = minimal.replace("environment: mypurecloud.de", "environment: mypurecloud.de\n    allowedNamespaces: [acme]");
    const withListen = (listen: string, extra = "") => `${bound}listen: ${listen}\n${extra}`;
    const tls = (more = "") => `{ certFile: /c.pem, keyFile: /k.pem${more} }`;

    it("defaults the socket mode to 0660 with a group, 0600 without, and refuses modes that let others connect", () => {
      expect(socketModeOf(parseConfigText(withListen("{ socketGid: 101 }")).listen)).toBe(0o660);
      expect(socketModeOf(parseConfigText(withListen("{ socketGid: 101, socketMode: '0600' }")).listen)).toBe(0o600);
      expect(problems(withListen("{ socketMode: '0666' }")).join()).toMatch(/listen\.socketMode: must not give others access/);
      expect(problems(withListen("{ socketMode: '0602' }")).join()).toMatch(/must not give others access/);
    });

    it("classifies each listener layout", () => {
      const auth = (listen: string) => checkListenerAuth(parseConfigText(withListen(listen)).listen);
      expect(auth("{}")).toBe("unix-socket");
      expect(auth("{ tcp: 127.0.0.1:9191 }")).toBe("unauthenticated-tcp");
      expect(auth(`{ tcp: 0.0.0.0:9191, tls: ${tls()} }`)).toBe("unauthenticated-tcp");
      expect(auth(`{ tcp: 0.0.0.0:9191, tls: ${tls(", clientCaFile: /ca.pem")} }`)).toBe("any-client-certificate");
      expect(auth(`{ tcp: 0.0.0.0:9191, tls: ${tls(", clientCaFile: /ca.pem, allowedClients: [spiffe://cluster.local/ns/gw/sa/envoy]")} }`)).toBe("allow-listed-tls");
    });

    it("needs a client CA for an allow-list", () => {
      expect(problems(withListen(`{ tcp: 0.0.0.0:9191, tls: ${tls(", allowedClients: [gw.example]")} }`)).join()).toMatch(
        /listen\.tls\.allowedClients: needs listen\.tls\.clientCaFile/,
      );
    });

    it("refuses mesh mode unless every Check listener is authenticated, naming the problem", () => {
      const mesh = "callers: { mode: mesh }\n";
      expect(problems(withListen("{}", mesh))).toEqual([]);
      expect(problems(withListen(`{ tcp: 0.0.0.0:9191, tls: ${tls(", clientCaFile: /ca.pem, allowedClients: [spiffe://cluster.local/ns/gw/sa/*]")} }`, mesh))).toEqual([]);
      const plain = problems(withListen("{ tcp: 127.0.0.1:9191 }", mesh)).join("\n");
      expect(plain).toMatch(/callers\.mode: mesh mode needs every Check listener authenticated: listen\.tcp 127\.0\.0\.1:9191 accepts callers without a client certificate/);
      expect(problems(withListen(`{ tcp: 0.0.0.0:9191, tls: ${tls()} }`, mesh)).join()).toMatch(/without a client certificate/);
      expect(problems(withListen(`{ tcp: 0.0.0.0:9191, tls: ${tls(", clientCaFile: /ca.pem")} }`, mesh)).join()).toMatch(/accepts any certificate.*set listen\.tls\.allowedClients/);
    });

    it("refuses an admin socket on the Check socket's path", () => {
      expect(problems(`${minimal}admin: { socket: /run/scopegate/authz.sock }\n`).join()).toMatch(/admin\.socket: must differ from listen\.unixSocket/);
    });
  });

  describe("fleet (issue 14)", () => {
    it("is absent unless configured; fills its defaults when given", () => {
      expect(parseConfigText(minimal).fleet).toBeUndefined();
      const c = parseConfigText(`${minimal}fleet:\n  redis: { url: "redis://redis.fleet.svc:6379/0" }\n  tokens: { keysFile: /etc/scopegate/fleet-keys.json }\n`);
      expect(c.fleet?.redis).toMatchObject({ keyPrefix: "scopegate:", connectTimeoutMs: 2000, commandTimeoutMs: 500 });
      expect(c.fleet?.tokens).toMatchObject({ lockLeaseMs: 10_000, pollIntervalMs: 100 });
      expect(parseConfigText(`${minimal}fleet: { redis: { url: "rediss://r:6380" } }\n`).fleet?.tokens).toBeUndefined();
    });

    it("lists every problem of the block: credentials in the URL, TLS without rediss, a lease shorter than a token request", () => {
      const p = problems(`${minimal}tokens: { requestTimeoutMs: 3000 }
fleet:
  redis: { url: "redis://user:hunter2@r:6379/x?db=1", tls: { caFile: /ca.pem }, keyPrefix: "bad prefix", commandTimeoutMs: 0 }
  tokens: { keysFile: "", lockLeaseMs: 2000, extra: 1 }
`).join("\n");
      expect(p).toMatch(/fleet\.redis\.url: must not carry credentials/);
      expect(p).toMatch(/fleet\.redis\.url: the path, if any, is a database number/);
      expect(p).toMatch(/fleet\.redis\.url: no query/);
      expect(p).toMatch(/fleet\.redis\.keyPrefix/);
      expect(p).toMatch(/fleet\.redis\.commandTimeoutMs/);
      expect(p).toMatch(/fleet\.tokens\.keysFile/);
      expect(p).toMatch(/fleet\.tokens.*extra|Unrecognized key.*extra/is);
      expect(p).not.toMatch(/hunter2/);
      expect(problems(`${minimal}fleet: { redis: { url: "redis://r", tls: {} }, tokens: { keysFile: /k, lockLeaseMs: 2000 } }\n`).join("\n")).toMatch(
        /fleet\.redis\.tls: needs a rediss:\/\/ url[\s\S]*fleet\.tokens\.lockLeaseMs: must be longer than tokens\.requestTimeoutMs/,
      );
      expect(problems(`${minimal}fleet: { redis: { url: "http://r:6379" } }\n`).join()).toMatch(/scheme must be redis:\/\/ or rediss:\/\//);
    });
  });
});

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
  - { id: Bad!, divisions: [d], tokenUrl: "http://evil.example.com/oauth/token" }
unknownKey: 1
`);
    const text = p.join("\n");
    expect(text).toMatch(/listen\.tcp/);
    expect(text).toMatch(/tenantIdPattern/);
    expect(text).toMatch(/secrets\.vault: required/);
    expect(text).toMatch(/tenants\.0\.divisions/);
    expect(text).toMatch(/exactly one of environment or tokenUrl/);
    expect(text).toMatch(/unknownKey|Unrecognized/i);
    expect(p.length).toBeGreaterThanOrEqual(6);
  });

  it("refuses plain-http token URLs except on loopback", () => {
    const base = (url: string) => minimal.replace("environment: mypurecloud.de", `tokenUrl: "${url}"`);
    expect(problems(base("https://login.example.com/oauth/token"))).toEqual([]);
    expect(problems(base("http://127.0.0.1:8080/oauth/token"))).toEqual([]);
    expect(problems(base("http://login.example.com/oauth/token")).join()).toMatch(/must be https/);
  });

  it("reports YAML syntax errors as config problems", () => {
    expect(problems("tenants: [").join()).toMatch(/YAML/);
  });

  it("keeps secrets out of config: a Vault token is a reference", () => {
    const p = problems(minimal.replace("backend: file", "backend: vault\n  vault: { address: 'https://vault:8200', auth: { method: token, token: 's.abc' } }"));
    expect(p.join()).toMatch(/secrets\.vault\.auth\.token/);
  });

  describe("who can call Check", () => {
    const withListen = (listen: string, extra = "") => `${minimal}listen: ${listen}\n${extra}`;
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
});

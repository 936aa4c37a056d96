/**
 * scopegate as a separate Service (issue 11): a real Envoy calls Check over TLS with its client certificate.
 * An Envoy whose certificate SAN is in listen.tls.allowedClients gets the tenant's token onto the request; an
 * Envoy with a valid certificate from the same CA but another SAN is refused (check_caller_not_allowed): the
 * request never reaches upstream and no token is minted.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { startApp, type App } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { makePki, type TestPki } from "../support/certs.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "../support/envoy.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { repoRoot } from "../support/tools.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";
import { writeFileSecret } from "../support/file-secrets.js";

let dir: string;
let pki: TestPki;
let standin: GenesysStandin;
let app: App;
const envoys: Envoy[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-check-tls-"));
  await chmod(dir, 0o755);
  pki = makePki(dir);
  standin = await startGenesysStandin();
  standin.addClient({ clientId: "acme-client", clientSecret: "acme-TLS-secret", divisions: ["div-acme"] });
  await writeFileSecret(join(dir, "secrets"), "acme", "acme-client", "acme-TLS-secret");
  app = await startApp({
    config: parseConfig({
      listen: {
        tcp: "127.0.0.1:0",
        unixSocket: null,
        tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caFile, allowedClients: ["spiffe://cluster.local/ns/mesh/sa/*"] },
      },
      http: { listen: null },
      secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
      ...standinEnvironments(standin.tokenUrl),
      tenants: [{ id: "acme", divisions: ["div-acme"], environment: TEST_ENV }],
      reload: { watch: false },
      logging: { level: "silent" },
    }),
    logger: createLogger("silent"),
    env: {},
    defaultMetrics: false,
  });
  await app.ready;
});
afterAll(async () => {
  for (const e of envoys) await e.stop();
  await app?.stop(500);
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** deploy/envoy/envoy-sidecar.yaml over TCP, its `authz` cluster given TLS with this client certificate (UpstreamTlsContext). */
async function envoyWithClientCert(cert: { cert: string; key: string }): Promise<Envoy> {
  const config = YAML.parse(
    envoyConfigFor({
      template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
      authz: { tcp: `127.0.0.1:${app.server.tcpPort}` },
      upstreams: { [TEST_ENV]: { host: "127.0.0.1", port: Number(new URL(standin.url).port) } },
      upstreamTls: "plaintext",
    }),
  ) as { static_resources: { clusters: { name: string; transport_socket?: unknown }[] } };
  const authz = config.static_resources.clusters.find((c) => c.name === "authz")!;
  authz.transport_socket = {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      sni: "localhost",
      common_tls_context: {
        alpn_protocols: ["h2"],
        tls_certificates: [{ certificate_chain: { filename: cert.cert }, private_key: { filename: cert.key } }],
        validation_context: { trusted_ca: { filename: pki.caFile }, match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "localhost" } }] },
      },
    },
  };
  const envoy = await startEnvoy({ configYaml: YAML.stringify(config), concurrency: 1 });
  envoys.push(envoy);
  return envoy;
}

describe("Check over TLS from a real Envoy", () => {
  it("refuses an Envoy whose certificate is not allow-listed: 403 check_caller_not_allowed, nothing upstream, no token", async () => {
    standin.reset();
    const envoy = await envoyWithClientCert(pki.issueClient("rogue-envoy", "URI:spiffe://cluster.local/ns/apps/sa/envoy"));
    const res = await fetch(`${envoy.url}/api/v2/routing/queues`, { headers: { "x-tenant-id": "acme" } });
    expect(res.status).toBe(403);
    expect(res.headers.get("x-scopegate-reason")).toBe("check_caller_not_allowed");
    expect(standin.received).toHaveLength(0);
    expect(standin.tokenRequests).toBe(0);
  });

  it("serves an allow-listed Envoy: upstream gets the tenant's token", async () => {
    standin.reset();
    const envoy = await envoyWithClientCert({ cert: pki.clientCert, key: pki.clientKey }); // spiffe://cluster.local/ns/mesh/sa/envoy
    const res = await fetch(`${envoy.url}/api/v2/routing/queues`, { headers: { "x-tenant-id": "acme" } });
    expect(res.status).toBe(200);
    expect(standin.tokenRequests).toBe(1);
    expect(standin.received).toHaveLength(1);
    expect(standin.received[0]!.status).toBe(200); // the stand-in accepted the bearer token it issued for acme
    expect(standin.received[0]!.query).toContain("divisionId=div-acme");
  });
});

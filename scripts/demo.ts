/**
 * npm run demo: the whole egress path on this machine, on loopback addresses.
 * Starts two stand-in Genesys Cloud regions over TLS (api.mypurecloud.com on 127.0.0.2, api.mypurecloud.de on
 * 127.0.0.3, certificates from a throwaway CA), a real OpenBao dev server (tenant secrets in KV v2), scopegate and
 * a real Envoy running the shipped sidecar config (deploy/envoy/envoy-sidecar.yaml). Then an unmodified app on the
 * official Genesys SDK calls through Envoy, as do a few hand-made requests, and it prints what each region received.
 * Stops everything when done, or on Ctrl-C.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSdkApp } from "../test/support/sdk-apps.js";
import { rawHeader, send, startStack, type Stack } from "../test/support/stack.js";
import type { ReceivedRequest } from "../test/support/genesys-standin.js";

const line = (s = ""): void => void process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  line("starting: two TLS stand-in regions, OpenBao dev server, scopegate, Envoy (shipped sidecar config) ...");
  // Gateway login (gatewayTokens): a throwaway key, as a mounted Secret would hold it.
  const keysDir = await mkdtemp(join(tmpdir(), "scopegate-demo-keys-"));
  const keysFile = join(keysDir, "keys.json");
  await writeFile(keysFile, JSON.stringify({ current: "demo", keys: { demo: randomBytes(32).toString("base64") } }));
  const stack: Stack = await startStack({
    regions: [
      { env: "mypurecloud.com", ip: "127.0.0.2" },
      { env: "mypurecloud.de", ip: "127.0.0.3", http2: true },
    ],
    tenants: [
      { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-demo-secret", via: "config", environment: "mypurecloud.com" },
      {
        id: "globex",
        divisions: ["div-globex-eu", "div-globex-us"],
        clientId: "globex-client",
        clientSecret: "globex-demo-secret",
        via: "vault",
        environment: "mypurecloud.de",
      },
    ],
    config: { logging: { level: "warn" }, gatewayTokens: { keysFile } },
  });
  const stop = async (): Promise<void> => {
    await stack.stop();
    await rm(keysDir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  const seen = new Map([...stack.standins].map(([env, s]) => [env, s.received.length]));
  const fresh = (): [string, ReceivedRequest][] => {
    const out: [string, ReceivedRequest][] = [];
    for (const [env, s] of stack.standins) {
      for (const r of s.received.slice(seen.get(env))) out.push([env, r]);
      seen.set(env, s.received.length);
    }
    return out;
  };
  const showUpstream = (): void => {
    const got = fresh();
    if (got.length === 0) line("  no region received anything");
    for (const [env, r] of got) {
      line(`  region ${env} received ${r.method} ${r.path}${r.query ? `?${r.query}` : ""}`);
      line(`    TLS SNI ${r.sni}, Host ${r.host}, HTTP/${r.httpVersion}; ${rawHeader(r.headers, "authorization").length} Authorization header, token of OAuth client "${r.tokenClientId}"`);
    }
  };

  try {
    line(`Envoy egress listener on ${stack.envoy.url}; scopegate Check on ${stack.socketPath}`);
    line("tenant acme (mypurecloud.com) is in scopegate's config; tenant globex (mypurecloud.de) exists only as a Vault record.");
    line();
    for (const language of ["python", "javascript"] as const) {
      line(`> an unmodified ${language} SDK app: gateway http://127.0.0.1:${stack.envoy.port}, placeholder token, x-tenant-id: globex`);
      const out = await runSdkApp(language, { port: stack.envoy.port, tenant: "globex", division: "div-globex-eu" });
      line(`  calls: ${out.calls.map((c) => `${c.name} ${c.status}`).join(", ")}; the app still holds "${out.heldToken}"`);
      showUpstream();
      line();
    }
    for (const language of ["python", "javascript"] as const) {
      line(`> an unmodified ${language} SDK app that logs in first: client id "globex" (the tenant id), secret "anything", no tenant header`);
      const out = await runSdkApp(language, { port: stack.envoy.port, login: "globex", secret: "anything", division: "div-globex-us" });
      line(`  login ${out.login}; calls: ${out.calls.map((c) => `${c.name} ${c.status}`).join(", ")}`);
      line(`  the app holds a gateway token "${out.heldToken?.slice(0, 12)}…", never the tenant's Genesys token`);
      showUpstream();
      line();
    }
    const requests: [string, string, Record<string, string>][] = [
      ["acme lists queues; its own Authorization and a Host naming the other region are ignored", "/api/v2/routing/queues?pageSize=25", { "x-tenant-id": "acme", authorization: "Bearer the-callers-own-token", host: "api.mypurecloud.de" }],
      ["acme asks for globex's division", "/api/v2/routing/queues?divisionId=div-globex-eu", { "x-tenant-id": "acme" }],
      ["acme tries to revoke the token every acme workload shares", "/api/v2/tokens/me", { "x-tenant-id": "acme" }],
      ["no tenant header", "/api/v2/routing/queues", {}],
      ["unknown tenant", "/api/v2/routing/queues", { "x-tenant-id": "initech" }],
    ];
    for (const [what, path, headers] of requests) {
      const method = path === "/api/v2/tokens/me" ? "DELETE" : "GET";
      const res = await send(stack.envoy, path, headers, method);
      line(`> ${what}`);
      line(`  ${method} ${path}   headers sent: ${JSON.stringify(headers)}`);
      line(`  Envoy answered ${res.status}${res.status === 200 ? "" : `  ${res.body}`}`);
      showUpstream();
      line();
    }
    const tokenRequests = [...stack.standins.values()].reduce((n, s) => n + s.tokenRequests, 0);
    line(`token requests made to the regions' login stand-ins: ${tokenRequests} (one per tenant, then cached)`);
  } finally {
    await stop();
  }
  line("stopped everything.");
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

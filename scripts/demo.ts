/**
 * npm run demo: the whole data path on this machine, on loopback ports.
 * Starts the Genesys Cloud stand-in, a real OpenBao dev server (tenant secrets in KV v2), scopegate and a
 * real Envoy (deploy/envoy/envoy-tcp.yaml), sends requests for two tenants and a bad one, and prints what
 * the upstream received. Stops everything when done, or on Ctrl-C.
 */
import { rawHeader, send, startStack, type Stack } from "../test/support/stack.js";

const line = (s = ""): void => void process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  line("starting: Genesys stand-in, OpenBao dev server, scopegate, Envoy ...");
  const stack: Stack = await startStack({
    tenants: [
      { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-demo-secret", via: "config" },
      { id: "globex", divisions: ["div-globex-eu", "div-globex-us"], clientId: "globex-client", clientSecret: "globex-demo-secret", via: "vault" },
    ],
    config: { logging: { level: "warn" } },
  });
  const stop = async (): Promise<void> => {
    await stack.stop();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));

  try {
    line(`envoy listening on ${stack.envoy.url}; scopegate gRPC on 127.0.0.1:${stack.app.server.tcpPort} and ${stack.socketPath}`);
    line("tenant acme is in scopegate's config; tenant globex exists only as a Vault record (discovered).");
    line();
    const requests: [string, string, Record<string, string>][] = [
      ["acme lists queues (caller's own Authorization is replaced)", "/api/v2/routing/queues?pageSize=25", { "x-tenant-id": "acme", authorization: "Bearer the-callers-own-token" }],
      ["globex lists scripts (this route's parameter is divisionIds)", "/api/v2/scripts", { "x-tenant-id": "globex" }],
      ["acme asks for globex's division", "/api/v2/routing/queues?divisionId=div-globex-eu", { "x-tenant-id": "acme" }],
      ["no tenant header", "/api/v2/routing/queues", {}],
      ["unknown tenant", "/api/v2/routing/queues", { "x-tenant-id": "initech" }],
      ["malformed tenant id", "/api/v2/routing/queues", { "x-tenant-id": "../../etc" }],
    ];
    for (const [what, path, headers] of requests) {
      const before = stack.standin.received.length;
      const res = await send(stack.envoy, path, headers);
      line(`> ${what}`);
      line(`  GET ${path}   headers sent: ${JSON.stringify(headers)}`);
      line(`  Envoy answered ${res.status}${res.status === 200 ? "" : `  ${res.body}`}`);
      const got = stack.standin.received.slice(before)[0];
      if (!got) {
        line("  upstream received nothing");
      } else {
        const auth = rawHeader(got.headers, "authorization");
        line(`  upstream received: ${got.method} ${got.path}?${got.query}`);
        line(`    authorization headers: ${auth.length}, token issued to OAuth client "${got.tokenClientId}" (divisions ${JSON.stringify(got.tokenDivisions)})`);
        line(`    x-tenant-id forwarded: ${rawHeader(got.headers, "x-tenant-id").length > 0 ? "yes" : "no"}`);
      }
      line();
    }
    line(`token requests made to the login stand-in: ${stack.standin.tokenRequests} (one per tenant, then cached)`);
  } finally {
    await stop();
  }
  line("stopped everything.");
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

// A small, unmodified Genesys Cloud SDK app (npm purecloud-platform-client-v2), pointed at the scopegate gateway.
// Configured as the SDK documents a gateway (README "Setting the gateway"): ApiClient.instance.setGateway({host,
// protocol, port}). It either holds a placeholder access token and names its tenant in a default header, or logs in
// with client credentials (--login CLIENT_ID), which in gateway mode goes to the gateway too (under --login-prefix,
// the SDK's path_params_login). It then lists queues
// (with and without a division), lists scripts and reads users/me, and prints JSON: what each call answered and
// which access token the SDK holds at the end.
//
//   node genesys-app.cjs --port 8080 --tenant acme [--login acme --secret anything [--login-prefix login]] [--division d1]
const { parseArgs } = require("node:util");
const platformClient = require("purecloud-platform-client-v2");

async function main() {
  const { values: a } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      tenant: { type: "string" },
      login: { type: "string" },
      secret: { type: "string", default: "not-a-genesys-secret" },
      division: { type: "string" },
      "login-prefix": { type: "string" },
    },
  });
  const client = platformClient.ApiClient.instance;
  client.setGateway({ host: a.host, protocol: "http", port: Number(a.port), ...(a["login-prefix"] ? { path_params_login: a["login-prefix"] } : {}) });
  // Rejections then carry the HTTP status (otherwise only the response body).
  client.setReturnExtendedResponses(true);
  const out = { calls: [] };
  if (a.login) {
    try {
      await client.loginClientCredentialsGrant(a.login, a.secret);
      out.login = "ok";
    } catch (e) {
      out.login = e.status ?? String(e);
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
  } else {
    client.setAccessToken("placeholder");
  }
  if (a.tenant) client.setDefaultHeaders({ "x-tenant-id": a.tenant });
  const call = async (name, fn) => {
    try {
      await fn();
      out.calls.push({ name, status: 200 });
    } catch (e) {
      out.calls.push({ name, status: e.status ?? String(e) });
    }
  };
  const routing = new platformClient.RoutingApi();
  await call("queues", () => routing.getRoutingQueues({ pageSize: 25 }));
  if (a.division) await call("queues-division", () => routing.getRoutingQueues({ divisionId: [a.division] }));
  await call("scripts", () => new platformClient.ScriptsApi().getScripts());
  await call("users-me", () => new platformClient.UsersApi().getUsersMe());
  out.heldToken = client.authData.accessToken;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : String(e)}\n`);
  process.exit(1);
});

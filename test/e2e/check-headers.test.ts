// What a real Envoy running the shipped sidecar config sends to the authorization server: only the headers a check
// reads (src/authz/check-input.ts checkedHeaders, the config's ext_authz allowed_headers), never the caller's
// cookies, user agent or trace context, while method, path and Host still arrive in their own fields. The
// authorization server here is a recorder (grpc-js, the generated CheckRequest decoder) that denies every request,
// so nothing goes upstream; scopegate itself never shows what it received, which is why it is not the server here.
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderEgressConfig } from "../../src/egress/envoy-config.js";
import { deny, DENY_REASONS } from "../../src/authz/deny-reasons.js";
import { buildDeniedResponse, encode } from "../../src/authz/response.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { GENESYS_ENVIRONMENTS } from "../../src/profiles/genesys/regions.js";
import { authorizationServiceDefinition } from "../../src/server/check-service.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "../support/envoy.js";
import { repoRoot } from "../support/tools.js";

interface Seen {
  readonly headers: Record<string, string>;
  readonly method: string;
  readonly path: string;
  readonly host: string;
}

/** Every check is answered with scopegate's own encoded denial, so Envoy answers the caller itself. */
const DENIAL = deny("caller_not_allowed");
const DENIED = encode(buildDeniedResponse(DENIAL));

const CALLER_HEADERS = {
  "x-tenant-id": "acme",
  authorization: "Bearer placeholder-from-the-sdk",
  cookie: "session=6a1f0c2e9b7d4a58",
  "user-agent": "PureCloud SDK/python",
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  "x-client-version": "web-4.12.3",
  "x-client-org": "globex",
};

let dir = "";
let server: Server;
let authzPort = 0;
const seen: Seen[] = [];
const running: Envoy[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-check-headers-"));
  server = new Server();
  server.addService(authorizationServiceDefinition, {
    Check: (call: { request: Buffer }, callback: (err: null, bytes: Buffer) => void) => {
      const http = CheckRequest.decode(call.request).attributes?.request?.http;
      seen.push({ headers: { ...(http?.headers ?? {}) }, method: http?.method ?? "", path: http?.path ?? "", host: http?.host ?? "" });
      callback(null, DENIED);
    },
  });
  authzPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
});

afterAll(async () => {
  for (const envoy of running) await envoy.stop();
  server?.forceShutdown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The sidecar config `template` in a real Envoy, pointed at the recorder; one request through it; what the recorder saw. */
async function oneCheck(template: string): Promise<{ status: number; seen: Seen }> {
  const envoy = await startEnvoy({
    configYaml: envoyConfigFor({ template, authz: { tcp: `127.0.0.1:${authzPort}` }, upstreams: {}, upstreamTls: "plaintext" }),
  });
  running.push(envoy);
  const before = seen.length;
  // node:http rather than fetch, which will not send a Host of the caller's choosing.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: envoy.port, path: "/api/v2/users?pageSize=25", headers: { ...CALLER_HEADERS, host: "api.example.internal" } },
      (res) => res.resume().on("end", () => resolve(res.statusCode ?? 0)),
    );
    req.on("error", reject).end();
  });
  expect(seen.length).toBe(before + 1);
  return { status, seen: seen.at(-1)! };
}

describe("the shipped Envoy configs send scopegate only the headers a check reads", () => {
  it("deploy/envoy/envoy-sidecar.yaml: the tenant header, authorization and x-request-id; no cookie, user agent or trace context", async () => {
    const { status, seen: check } = await oneCheck(join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"));
    expect(status).toBe(DENY_REASONS[DENIAL.reason].status); // the recorder's denial: the request went no further
    expect(Object.keys(check.headers).sort()).toEqual(["authorization", "x-request-id", "x-tenant-id"]);
    expect(check.headers["x-tenant-id"]).toBe("acme");
    expect(check.headers["authorization"]).toBe(CALLER_HEADERS.authorization);
    expect(check.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/); // generate_request_id: Envoy's own
    for (const name of ["cookie", "user-agent", "traceparent", "x-client-version", "x-client-org"]) expect(check.headers).not.toHaveProperty(name);
    // What the route plan and the Host check read travels in the request's own fields.
    expect(check).toMatchObject({ method: "GET", path: "/api/v2/users?pageSize=25", host: "api.example.internal" });
  });

  it("`scopegate envoy-config` with a config's own tenant header sends that header instead", async () => {
    const file = join(dir, "sidecar-x-client-org.yaml");
    await writeFile(file, renderEgressConfig({ layout: "sidecar", environments: GENESYS_ENVIRONMENTS, tenantHeader: "x-client-org" }));
    const { seen: check } = await oneCheck(file);
    expect(Object.keys(check.headers).sort()).toEqual(["authorization", "x-client-org", "x-request-id"]);
    expect(check.headers["x-client-org"]).toBe("globex");
    expect(check.headers).not.toHaveProperty("x-tenant-id");
  });
});

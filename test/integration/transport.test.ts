/**
 * The gRPC listener: malformed protobuf bytes sent straight to the port are denied (not a gRPC error, not a
 * crash); the unix socket is created 0600; optional TLS and mTLS on the TCP listener.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { createLogger } from "../../src/observability/logger.js";
import { CHECK_METHOD_PATH } from "../../src/server/check-service.js";
import { makePki, type TestPki } from "../support/certs.js";
import { checkClient } from "../support/grpc-clients.js";
import { checkRequest } from "../support/check-requests.js";

let dir: string;
let pki: TestPki;
let plain: App;
let mtls: App;

const base = (extra: Record<string, unknown>) =>
  parseConfig({
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    tenants: [{ id: "acme", divisions: ["d"], environment: "mypurecloud.de" }],
    http: { listen: null },
    reload: { watch: false },
    logging: { level: "silent" },
    ...extra,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-transport-"));
  pki = makePki(dir);
  plain = await startApp({ config: base({ listen: { tcp: "127.0.0.1:0", unixSocket: join(dir, "authz.sock") } }), logger: createLogger("silent"), env: {}, defaultMetrics: false });
  mtls = await startApp({
    config: base({ listen: { tcp: "127.0.0.1:0", unixSocket: null, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caFile } } }),
    logger: createLogger("silent"),
    env: {},
    defaultMetrics: false,
  });
});
afterAll(async () => {
  await plain?.stop(500);
  await mtls?.stop(500);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function rawCheck(target: string, bytes: Buffer): Promise<CheckResponse> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      CHECK_METHOD_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      { deadline: Date.now() + 3000 },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(CheckResponse.decode(res!));
      },
    );
  });
}

describe("graceful shutdown with a drain period", () => {
  it("reports NOT_SERVING at once but keeps answering checks during drainMs, then stops", async () => {
    const app = await startApp({
      config: base({ listen: { tcp: "127.0.0.1:0", unixSocket: null }, shutdown: { drainMs: 600, graceMs: 500 } }),
      logger: createLogger("silent"),
      env: {},
      defaultMetrics: false,
    });
    await app.ready;
    const client = checkClient(`127.0.0.1:${app.server.tcpPort}`);
    expect(await client.health()).toBe("SERVING");
    const stopping = app.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(await client.health()).toBe("NOT_SERVING");
    const during = await client.check(checkRequest({ headers: { "x-tenant-id": "nobody" } }));
    if (during.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
    expect(JSON.parse(during.httpResponse.value.body).error).toBe("tenant_unknown"); // still deciding, not shutting_down
    await stopping;
    await expect(client.check(checkRequest({ headers: { "x-tenant-id": "nobody" } }), 500)).rejects.toBeDefined();
    client.close();
  });
});

describe("gRPC listener", () => {
  it("answers malformed protobuf with a malformed_request denial", async () => {
    for (const bytes of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x7f, 0x01]), Buffer.from("GET / HTTP/1.1")]) {
      const res = await rawCheck(`127.0.0.1:${plain.server.tcpPort}`, bytes);
      expect(res.status?.code).toBe(3);
      if (res.httpResponse?.$case !== "deniedResponse") throw new Error("not denied");
      expect(JSON.parse(res.httpResponse.value.body).error).toBe("malformed_request");
    }
    // and it is still serving
    const client = checkClient(`127.0.0.1:${plain.server.tcpPort}`);
    expect(await client.health()).toBe("SERVING");
    client.close();
  });

  it("creates the unix socket with mode 0600", async () => {
    expect((await stat(join(dir, "authz.sock"))).mode & 0o777).toBe(0o600);
  });

  it("with mTLS: refuses clients without a certificate from the CA, serves those with one", async () => {
    const port = mtls.server.tcpPort!;
    const ca = pki.read(pki.caFile);
    const withCert = grpc.credentials.createSsl(ca, pki.read(pki.clientKey), pki.read(pki.clientCert));
    const withoutCert = grpc.credentials.createSsl(ca);
    const call = (creds: grpc.ChannelCredentials) =>
      new Promise<Buffer>((resolve, reject) => {
        const client = new grpc.Client(`localhost:${port}`, creds);
        client.makeUnaryRequest(
          CHECK_METHOD_PATH,
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from(CheckResponse.encode({ status: undefined, httpResponse: undefined, dynamicMetadata: undefined }).finish()),
          { deadline: Date.now() + 3000 },
          (err, res) => {
            client.close();
            if (err) reject(err);
            else resolve(res!);
          },
        );
      });
    await expect(call(withoutCert)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    await expect(call(grpc.credentials.createInsecure())).rejects.toBeDefined();
    const res = CheckResponse.decode(await call(withCert));
    expect(res.httpResponse?.$case).toBe("deniedResponse"); // an empty request is malformed, but it got through TLS
  });
});

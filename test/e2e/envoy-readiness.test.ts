// The shipped Envoy configs' probe port through a real Envoy: the `ready` listener answers GET /ready from the admin
// interface and nothing else of it. The configs are the shipped files with only addresses and certificate paths
// rewritten (test/support/envoy.ts): the listener on loopback port 0, admin on a free loopback port, the admin
// cluster pointed at that port.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePki, type TestPki } from "../support/certs.js";
import { envoyConfigFor, startEnvoy, type Envoy } from "../support/envoy.js";
import { freePort } from "../support/ports.js";
import { repoRoot } from "../support/tools.js";

let dir = "";
let pki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-envoy-ready-"));
  pki = makePki(dir);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(["sidecar", "gateway"] as const)("deploy/envoy/envoy-%s.yaml readiness listener", (layout) => {
  let envoy: Envoy;
  let base = "";
  beforeAll(async () => {
    const configYaml = envoyConfigFor({
      template: join(repoRoot, `deploy/envoy/envoy-${layout}.yaml`),
      adminPort: await freePort(),
      authz: { unixSocket: join(dir, `${layout}-authz.sock`) },
      upstreams: {},
      upstreamTls: { caFile: pki.caFile },
      ...(layout === "gateway" ? { downstreamTls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caFile } } : {}),
    });
    envoy = await startEnvoy({ configYaml, concurrency: 1 });
    expect(envoy.readyPort).toBeDefined();
    base = `http://127.0.0.1:${envoy.readyPort}`;
  });
  afterAll(async () => envoy?.stop());

  const get = async (path: string, method = "GET"): Promise<{ status: number; body: string }> => {
    const res = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  };

  it("answers GET /ready with admin's 200 LIVE", async () => {
    expect(await get("/ready")).toEqual({ status: 200, body: "LIVE\n" });
  });

  it("answers 404 for every other admin path, in any spelling, and nothing reaches admin", async () => {
    for (const path of ["/stats", "/quitquitquit", "/config_dump", "/ready/../stats", "//stats", "/READY", "/ready/", "/"]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain("LIVE");
    }
    expect((await get("/quitquitquit", "POST")).status).toBe(404);
    expect((await get("/ready", "POST")).status, "only GET").toBe(404);
    // Envoy still runs: /quitquitquit did not reach admin.
    expect(await get("/ready")).toEqual({ status: 200, body: "LIVE\n" });
    // Exactly the two GET /ready went upstream to admin.
    expect(await envoy.stats("^cluster\\.envoy_admin\\.upstream_rq_total$")).toMatch(/: 2$/m);
  });
});

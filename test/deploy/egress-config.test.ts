// The shipped Envoy egress configs are the generator's output for every Genesys Cloud region, and the real Envoy
// accepts them (`envoy --mode validate`; the gateway's and the forwarder's certificate paths pointed at test files,
// which validate reads). The forwarder resolves the gateway's name only when it runs, not to validate.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderShipped, SHIPPED_EGRESS_CONFIGS } from "../../scripts/render-envoy.js";
import { makePki } from "../support/certs.js";
import { repoRoot, toolPath } from "../support/tools.js";

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-egress-config-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("deploy/envoy egress configs", () => {
  it.each(SHIPPED_EGRESS_CONFIGS)("$file is what `npm run render:envoy` writes", ({ layout, file }) => {
    expect(readFileSync(join(repoRoot, file), "utf8")).toBe(renderShipped(layout));
  });

  it.each(SHIPPED_EGRESS_CONFIGS)("$file passes envoy --mode validate", async ({ layout, file }) => {
    let text = readFileSync(join(repoRoot, file), "utf8");
    if (layout === "gateway") {
      const pki = makePki(dir);
      text = text
        .replace("/etc/envoy/tls/tls.crt", pki.serverCert)
        .replace("/etc/envoy/tls/tls.key", pki.serverKey)
        .replace("/etc/envoy/client-ca/ca.crt", pki.caFile);
    } else if (layout === "forwarder") {
      // The workload's client certificate and the gateway's CA: validate loads them.
      const pki = makePki(dir);
      text = text
        .replace("filename: /etc/envoy/tls/tls.crt", `filename: ${pki.clientCert}`)
        .replace("filename: /etc/envoy/tls/tls.key", `filename: ${pki.clientKey}`)
        .replace("filename: /etc/envoy/gateway-ca/ca.crt", `filename: ${pki.caFile}`);
    }
    const path = join(dir, `${layout}.yaml`);
    await writeFile(path, text);
    const { stdout, stderr } = await run(toolPath("envoy"), ["--mode", "validate", "-c", path, "--disable-hot-restart", "--log-level", "warn"], { timeout: 60_000 });
    expect(`${stdout}${stderr}`).toMatch(/OK/);
  });
});

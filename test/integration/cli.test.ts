/** The CLI as operators use it: check-config (every problem listed) and check-config --probe. */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { repoRoot } from "../support/tools.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";

const run = promisify(execFile);
let dir: string;
let standin: GenesysStandin;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, "dist/main.js"), ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-cli-"));
  standin = await startGenesysStandin();
  standin.addClient({ clientId: "acme-client", clientSecret: "acme-PROBE-secret", divisions: ["d"] });
  for (const [tenant, id, secret] of [
    ["acme", "acme-client", "acme-PROBE-secret"],
    ["wrong", "acme-client", "not-the-secret"],
  ] as const) {
    await mkdir(join(dir, "secrets", tenant), { recursive: true });
    await writeFile(join(dir, "secrets", tenant, "client_id"), id);
    await writeFile(join(dir, "secrets", tenant, "client_secret"), secret);
  }
});
afterAll(async () => {
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("scopegate check-config", () => {
  it("accepts the configuration reference in README.md", async () => {
    const readme = await readFile(join(repoRoot, "README.md"), "utf8");
    const block = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    await writeFile(join(dir, "readme.yaml"), block!);
    const r = await cli("check-config", join(dir, "readme.yaml"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("lists every problem and exits 2", async () => {
    await writeFile(join(dir, "bad.yaml"), "tenants: [{ id: 'X Y', divisions: [], environment: mypurecloud.de }]\nsecrets: { backend: vault }\nbogus: 1\n");
    const r = await cli("check-config", join(dir, "bad.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tenants\.0\.divisions/);
    expect(r.stderr).toMatch(/secrets\.vault: required/);
    expect(r.stderr).toMatch(/bogus/);
  });

  it("--probe reads each tenant's secret and mints a token, printing tenant -> ok or reason, no secrets", async () => {
    const tenants = ["acme", "wrong", "ghost"].map((id) => ({ id, divisions: ["d"], environment: TEST_ENV }));
    await writeFile(
      join(dir, "ok.yaml"),
      YAML.stringify({ ...standinEnvironments(standin.tokenUrl), secrets: { backend: "file", file: { directory: join(dir, "secrets") } }, tenants }),
    );
    const r = await cli("check-config", join(dir, "ok.yaml"), "--probe");
    expect(r.code).toBe(1); // not every tenant is ok
    expect(r.stdout).toMatch(/^acme\s+ok$/m);
    expect(r.stdout).toMatch(/^wrong\s+token invalid_client \(HTTP 401\)$/m);
    expect(r.stdout).toMatch(/^ghost\s+credentials_missing$/m);
    expect(`${r.stdout}${r.stderr}`).not.toContain("PROBE-secret");
    expect(standin.tokenRequestsFor("acme-client")).toBe(2);
  });

  it("--probe reads the gateway token keys file, naming its problem and never a key", async () => {
    const base = { ...standinEnvironments(standin.tokenUrl), secrets: { backend: "file", file: { directory: join(dir, "secrets") } }, tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV }] };
    const key = randomBytes(32).toString("base64");
    await writeFile(join(dir, "keys.json"), JSON.stringify({ current: "k1", keys: { k1: key } }));
    await writeFile(join(dir, "keys-bad.json"), JSON.stringify({ current: "k2", keys: { k1: key } }));
    await writeFile(join(dir, "gw-ok.yaml"), YAML.stringify({ ...base, gatewayTokens: { keysFile: join(dir, "keys.json") } }));
    await writeFile(join(dir, "gw-bad.yaml"), YAML.stringify({ ...base, gatewayTokens: { keysFile: join(dir, "keys-bad.json") } }));
    const ok = await cli("check-config", join(dir, "gw-ok.yaml"), "--probe");
    expect(ok.stdout).toMatch(/^gatewayTokens\.keysFile\s+ok \(current k1, 1 key\)$/m);
    expect(ok.code).toBe(0);
    const bad = await cli("check-config", join(dir, "gw-bad.yaml"), "--probe");
    expect(bad.stdout).toMatch(/^gatewayTokens\.keysFile\s+current: must name one of the keys$/m);
    expect(bad.code).toBe(1);
    expect(`${ok.stdout}${ok.stderr}${bad.stdout}${bad.stderr}`).not.toContain(key.slice(0, 12));
  });
});

describe("envoy-config", () => {
  it("prints the shipped sidecar config by default and the config's own environments when given one", async () => {
    const all = await cli("envoy-config");
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(await readFile(join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"), "utf8"));
    await writeFile(
      join(dir, "eu.yaml"),
      YAML.stringify({
        environments: { "mypurecloud.de": {}, "mypurecloud.ie": {} },
        egress: { upstreamHeader: "x-eu-route" },
        tenantHeader: "x-client-org",
        secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
        tenants: [{ id: "acme", divisions: ["d"], environment: "mypurecloud.de" }],
      }),
    );
    const eu = await cli("envoy-config", "--layout", "gateway", "--config", join(dir, "eu.yaml"));
    expect(eu.code).toBe(0);
    const routes = (YAML.parse(eu.stdout) as any).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config
      .virtual_hosts[0].routes as { name: string; match: { headers?: { name: string }[] } }[];
    expect(routes.map((r) => r.name)).toEqual(["mypurecloud.de", "mypurecloud.ie", "login", "not-routed"]);
    expect(routes[0]!.match.headers?.[0]?.name).toBe("x-eu-route");
    // Check gets the config's tenant header, not the default one (ext_authz allowed_headers).
    const extAuthz = (YAML.parse(eu.stdout) as any).static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config;
    expect(extAuthz.allowed_headers.patterns).toEqual([{ exact: "x-client-org" }, { exact: "x-request-id" }, { exact: "authorization" }]);
    expect((await cli("envoy-config", "--layout", "ingress")).code).toBe(2);
  });
});

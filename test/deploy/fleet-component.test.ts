// deploy/kubernetes/components/fleet: the shared gateway rendered with the component (real kustomize), and the
// `fleet:` block its comments tell operators to add: the config validates, and every file it names is on a volume
// mounted into the scopegate container only, from the Secrets the component documents.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify } from "yaml";
import { parseConfigText } from "../../src/config/index.js";
import { kustomizeBuild } from "../support/kustomize.js";
import { repoRoot } from "../support/tools.js";

interface Obj {
  kind: string;
  metadata: { name: string };
  [k: string]: unknown;
}
type Mount = { name: string; mountPath: string };
type Container = { name: string; volumeMounts?: Mount[] };

const COMPONENT = join(repoRoot, "deploy/kubernetes/components/fleet");
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The fleet block as the component's kustomization.yaml comment gives it. */
async function documentedBlock(): Promise<string> {
  const text = await readFile(join(COMPONENT, "kustomization.yaml"), "utf8");
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l === "#   fleet:");
  const block: string[] = [];
  for (let i = start; i >= 0 && i < lines.length && lines[i]!.startsWith("#   "); i++) block.push(lines[i]!.slice(4));
  return block.join("\n");
}

describe("deploy/kubernetes/components/fleet", () => {
  it("renders onto the shared gateway; the documented fleet block validates and its files are mounted from the Secrets", async () => {
    const block = await documentedBlock();
    expect(block).toMatch(/^fleet:\n {2}redis:/);
    // An overlay as an operator writes it: the gateway, the component, and config.yaml with the block added.
    const dir = await mkdtemp(join(tmpdir(), "scopegate-fleet-component-"));
    dirs.push(dir);
    const gateway = kustomizeBuild(join(repoRoot, "deploy/kubernetes/overlays/shared-gateway")) as Obj[];
    const configMap = gateway.find((o) => o.kind === "ConfigMap" && o.metadata.name === "scopegate-config")! as Obj & { data: Record<string, string> };
    const config = `${configMap.data["config.yaml"]}${block}\n`;
    await writeFile(join(dir, "config-patch.yaml"), stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "scopegate-config" }, data: { "config.yaml": config } }));
    await writeFile(
      join(dir, "kustomization.yaml"),
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: [relative(dir, join(repoRoot, "deploy/kubernetes/overlays/shared-gateway"))],
        components: [relative(dir, COMPONENT)],
        patches: [{ path: "config-patch.yaml" }],
      }),
    );
    const objects = kustomizeBuild(dir) as Obj[];
    const parsed = parseConfigText((objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "scopegate-config") as Obj & { data: Record<string, string> }).data["config.yaml"]!);
    expect(parsed.fleet?.tokens?.keysFile).toBeDefined();

    const deployment = objects.find((o) => o.kind === "Deployment")! as Obj & { spec: { template: { spec: { initContainers: Container[]; containers: Container[]; volumes: { name: string; secret?: { secretName: string } }[] } } } };
    const pod = deployment.spec.template.spec;
    const scopegate = pod.initContainers.find((c) => c.name === "scopegate")!;
    const secretOf = (file: string): string | undefined => {
      const mount = scopegate.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
      return mount && pod.volumes.find((v) => v.name === mount.name)?.secret?.secretName;
    };
    expect(secretOf(parsed.fleet!.tokens!.keysFile)).toBe("scopegate-fleet-keys");
    expect(secretOf(parsed.fleet!.redis.passwordFile!)).toBe("scopegate-fleet-redis");
    expect(secretOf(parsed.fleet!.redis.tls!.caFile!)).toBe("scopegate-fleet-redis");
    // The mounts the gateway had are still there, and Envoy gets none of the fleet's Secrets.
    expect(scopegate.volumeMounts?.map((m) => m.name)).toEqual(expect.arrayContaining(["scopegate-config", "scopegate-run", "vault-token", "fleet-keys", "fleet-redis"]));
    for (const c of pod.containers) expect(c.volumeMounts?.map((m) => m.name) ?? []).not.toEqual(expect.arrayContaining(["fleet-keys"]));
    expect(parseYaml(stringify(pod.volumes))).toEqual(expect.arrayContaining([{ name: "fleet-keys", secret: { secretName: "scopegate-fleet-keys" } }]));
  });
});

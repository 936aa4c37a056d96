/**
 * npm run render:envoy: writes the shipped Envoy egress configs, deploy/envoy/envoy-{sidecar,gateway}.yaml, for every
 * Genesys Cloud region, the shared gateway's per-workload forwarder, deploy/envoy/envoy-forwarder.yaml, and the
 * copies in the kustomize layouts (kustomize's configMapGenerator reads files only
 * below its kustomization). `--check` only compares (exit 1 when a file differs); test/deploy runs the same comparison.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderEgressConfig, type EgressLayout } from "../src/egress/envoy-config.js";
import { renderForwarderConfig } from "../src/egress/forwarder-config.js";
import { GENESYS_ENVIRONMENTS } from "../src/profiles/genesys/regions.js";
import { repoRoot } from "../test/support/tools.js";

/** The egress layouts, and the forwarder a workload runs to reach the shared gateway. */
export type ShippedLayout = EgressLayout | "forwarder";

export const SHIPPED_EGRESS_CONFIGS: readonly { layout: ShippedLayout; file: string }[] = [
  { layout: "sidecar", file: "deploy/envoy/envoy-sidecar.yaml" },
  { layout: "gateway", file: "deploy/envoy/envoy-gateway.yaml" },
  { layout: "forwarder", file: "deploy/envoy/envoy-forwarder.yaml" },
  { layout: "sidecar", file: "deploy/kubernetes/base/envoy-sidecar.yaml" },
  { layout: "gateway", file: "deploy/kubernetes/overlays/shared-gateway/envoy-gateway.yaml" },
];

export function renderShipped(layout: ShippedLayout): string {
  return layout === "forwarder" ? renderForwarderConfig() : renderEgressConfig({ layout, environments: GENESYS_ENVIRONMENTS });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes("--check");
  let differs = false;
  for (const { layout, file } of SHIPPED_EGRESS_CONFIGS) {
    const path = join(repoRoot, file);
    const want = renderShipped(layout);
    if (check) {
      const have = readFileSync(path, "utf8");
      if (have !== want) {
        differs = true;
        process.stderr.write(`${file} differs from the generator's output: run npm run render:envoy\n`);
      }
    } else {
      writeFileSync(path, want);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  process.exit(differs ? 1 : 0);
}

// Multi-worker scopegate for the benchmark, until main.ts wires src/cluster: the same compiled code as
// `node dist/main.js serve` (dist/config, dist/observability, dist/cluster), run by Node 24 directly.
//   node scripts/bench/cluster-serve.ts --config <file> --workers <n>
// Prints "cluster ready" on stderr once every worker listens; SIGTERM stops it gracefully.
import { parseArgs } from "node:util";

type ConfigModule = typeof import("../../src/config/index.js");
type LoggerModule = typeof import("../../src/observability/logger.js");
type ClusterModule = typeof import("../../src/cluster/index.js");

const dist = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
const { loadConfigFile } = (await import(dist("config/index.js"))) as ConfigModule;
const { createLogger } = (await import(dist("observability/logger.js"))) as LoggerModule;
const { startCluster } = (await import(dist("cluster/index.js"))) as ClusterModule;

const { values } = parseArgs({ options: { config: { type: "string" }, workers: { type: "string" } } });
if (!values.config || !values.workers) {
  process.stderr.write("usage: cluster-serve.ts --config <file> --workers <n>\n");
  process.exit(2);
}
const config = await loadConfigFile(values.config);
const logger = createLogger(config.logging.level);
const running = await startCluster({ config, logger, env: process.env, workers: Number(values.workers), configPath: values.config });
process.stderr.write(`cluster ready workers=${running.workers}\n`);
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  running.stop(config.shutdown.graceMs).then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

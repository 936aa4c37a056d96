/** Multi-worker mode: node:cluster workers serve Check on the shared port; the primary alone mints tokens. */
export { startCluster, type ClusterOptions, type RunningCluster } from "./primary.js";
export { RemoteTokenSource, type PrimaryChannel, type RemoteTokenSourceOptions } from "./remote-token-source.js";
export { TokenBroker, type TenantResolver } from "./token-broker.js";
export { ClusterMetrics, aggregateProcesses, type ClusterMetricsOptions, type MetricsWorker } from "./cluster-metrics.js";

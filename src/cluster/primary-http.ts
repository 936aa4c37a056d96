/**
 * The cluster primary's /healthz /readyz /metrics. Its app runs without HTTP (configs.ts) because the app's
 * /metrics would show the primary's registry only; here /metrics is the whole cluster's (cluster-metrics.ts),
 * and /readyz answers as the app's would: ready once the secret store answered, the last rejected config
 * reload in the body, shutting_down from the start of shutdown.
 */
import type { App } from "../app.js";
import { startHttpServer, type RunningHttpServer } from "../server/http-server.js";
import type { ClusterMetrics } from "./cluster-metrics.js";

export async function startPrimaryHttp(
  listen: string,
  app: App,
  metrics: ClusterMetrics,
  isShuttingDown: () => boolean,
  reloadProblems: () => readonly string[] | undefined,
  /** Fixed detail for /readyz (e.g. the Check listener warning, app.ts checkListenerDetail). */
  fixedDetail: Record<string, string> = {},
): Promise<RunningHttpServer> {
  let storeAnswered = false;
  app.ready.then(
    () => (storeAnswered = true),
    () => undefined,
  );
  return startHttpServer({
    listen,
    registry: metrics,
    isShuttingDown,
    readiness: {
      notReadyReason: () => (storeAnswered ? undefined : "secret_store_not_answered"),
      detail: () => {
        const problems = reloadProblems();
        return { ...(problems ? { configReload: "rejected", problems } : {}), ...fixedDetail };
      },
    },
  });
}

/**
 * A loud line at start when Check is reachable over TCP by callers that show no client certificate: whoever
 * reaches the port can obtain any tenant's token. Stable messages (alerts may match them).
 */
import type { Logger } from "pino";
import { checkListenerAuth, type Config } from "../config/index.js";

export function warnAboutCheckListener(logger: Logger, listen: Config["listen"]): void {
  const auth = checkListenerAuth(listen);
  if (auth === "unauthenticated-tcp") {
    logger.error({ tcp: listen.tcp, checkListener: auth }, "UNAUTHENTICATED CHECK LISTENER: anything that can reach listen.tcp can obtain any tenant's token; set listen.tls.clientCaFile and listen.tls.allowedClients, or serve Check on the unix socket only");
  } else if (auth === "any-client-certificate") {
    logger.warn({ tcp: listen.tcp, checkListener: auth }, "Check listener accepts any client certificate from listen.tls.clientCaFile; set listen.tls.allowedClients to the Envoy identities");
  }
}

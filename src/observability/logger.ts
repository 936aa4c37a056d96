/**
 * The logger, with the redaction list in one place. Secrets and tokens are also kept out by construction
 * (ClientCredentials and TokenEntry never serialise their secret parts; decision lines carry codes only),
 * so these paths are the second line of defence.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";

export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "token",
  "*.token",
  "access_token",
  "*.access_token",
  "clientSecret",
  "*.clientSecret",
  "client_secret",
  "*.client_secret",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "jwt",
  "*.jwt",
  "secret_id",
  "*.secret_id",
];

export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "scopegate" },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * stdout without a blocking write per line (sonic-boom async mode). Call flushSync() before process.exit so
 * the last lines are not lost.
 */
export function asyncStdout(): DestinationStream & { flushSync(): void } {
  return pino.destination({ dest: 1, sync: false });
}

/**
 * Primary -> worker: the primary's secret store has answered, so the worker's gRPC health may say SERVING (as a
 * single process does once its own store answers). Workers read no secrets themselves. Kept beside protocol.ts
 * for now; the same tag, so isClusterMessage recognises it as ours.
 */
export interface ReadyMessage {
  readonly tag: "scopegate.cluster";
  readonly type: "ready";
}

export const READY_MESSAGE: ReadyMessage = { tag: "scopegate.cluster", type: "ready" };

export function isReadyMessage(m: unknown): m is ReadyMessage {
  return typeof m === "object" && m !== null && (m as { tag?: unknown }).tag === READY_MESSAGE.tag && (m as { type?: unknown }).type === "ready";
}

// The one local stand-in for Genesys Cloud login (POST /oauth/token, client credentials) and the
// Platform API (/api/v2/*), on a loopback address, port 0, in plain HTTP or, like a real region, over TLS (HTTP/1.1,
// or HTTP/2 offered in ALPN). Behaviour as documented at
// https://developer.genesys.cloud/authorization/platform-auth/use-client-credentials (Basic client auth, form body
// grant_type=client_credentials, access_token/token_type/expires_in) and in docs/tenants.md.
// A client given an `accessKey` behaves as a NICE CXone back-end application instead: its token endpoint
// (POST /auth/token, also served at /oauth/token) accepts only the OAuth 2.0 password grant with that API user's
// access key id and secret as username and password, and answers invalid_grant for a wrong key
// (https://developer.niceincontact.com/Documentation/APIAuthenticationAndAuthorization; docs/nice-cxone.md); its
// API is served under /incontactapi/* like Genesys's /api/v2/*.
// Knobs (delay, failures, 429s, hang) apply to the token endpoint only.
import { constants, randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2 from "node:http2";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  authError,
  errorBody,
  parseBasic,
  parseBearer,
  queryDivisionIds,
  readBody,
  sendJson,
  type ReceivedRequest,
  type TokenCall,
} from "./genesys-http.js";

export type { ReceivedRequest, TokenCall } from "./genesys-http.js";

export interface StandinClient {
  clientId: string;
  clientSecret: string;
  divisions: string[];
  /** Seconds; defaults to the Genesys default 86 400 (docs/genesys-facts.md), 3600 for a CXone client. */
  expiresIn?: number;
  /** A NICE CXone application: only the password grant, with this access key as username/password. */
  accessKey?: { id: string; secret: string };
}

export interface IssuedToken {
  clientId: string;
  /** A CXone token's API user: the access key id it was minted with. */
  accessKeyId?: string;
  divisions: string[];
  expiresAtMs: number;
}

export interface StandinOptions {
  /** Clock for token expiry; defaults to Date.now. */
  now?: () => number;
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  /** Serve TLS with this certificate (a region's api.<env> / login.<env>); `http2` offers h2 in ALPN too. */
  tls?: { key: Buffer | string; cert: Buffer | string; http2?: boolean };
}

export interface GenesysStandin {
  readonly url: string;
  readonly tokenUrl: string;
  /** The same token endpoint at NICE CXone's path (/auth/token). */
  readonly cxoneTokenUrl: string;
  readonly issuedTokens: ReadonlyMap<string, IssuedToken>;
  readonly received: readonly ReceivedRequest[];
  readonly tokenCalls: readonly TokenCall[];
  /** Every POST /oauth/token that arrived (including failed and hung ones). */
  readonly tokenRequests: number;
  tokenRequestsFor(clientId: string): number;
  addClient(client: StandinClient): void;
  rotateSecret(clientId: string, newSecret: string): void;
  /** A CXone application now logs in as another API user: only this access key is accepted from now on. */
  setAccessKey(clientId: string, accessKey: { id: string; secret: string }): void;
  setDelayMs(ms: number): void;
  failNext(count: number, status: number): void;
  rateLimitNext(count: number, retryAfterSeconds: number): void;
  hang(on: boolean): void;
  /** Authorised API requests whose divisionId/divisionIds values are not all among the token's divisions. */
  receivedMismatches(): number;
  /** Clears counters, received requests and knobs; keeps clients and issued tokens (they stay valid, as upstream). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * No session tickets: a resumed TLS session does not report the SNI it was resumed with (servername is false), and
 * the tests read each connection's SNI.
 */
const NO_RESUMPTION = constants.SSL_OP_NO_TICKET;

export async function startGenesysStandin(opts: StandinOptions = {}): Promise<GenesysStandin> {
  const now = opts.now ?? Date.now;
  const clients = new Map<string, StandinClient & { expiresIn: number }>();
  const issuedTokens = new Map<string, IssuedToken>();
  let received: ReceivedRequest[] = [];
  let tokenCalls: TokenCall[] = [];
  let perClient = new Map<string, number>();
  let tokenRequests = 0;
  let delayMs = 0;
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  let rateLimits: { left: number; retryAfter: number } = { left: 0, retryAfter: 1 };
  let release: (() => void) | undefined;
  let hanging: Promise<void> | undefined;

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    tokenRequests++;
    const basic = parseBasic(req);
    if (basic) perClient.set(basic.clientId, (perClient.get(basic.clientId) ?? 0) + 1);
    const contentType = req.headers["content-type"] ?? null;
    const body = await readBody(req);
    const call: TokenCall = { clientId: basic?.clientId ?? null, contentType, body: body ?? null, status: 0 };
    tokenCalls.push(call);
    const answer = (status: number, payload: unknown, headers?: Record<string, string>): void => {
      call.status = status;
      sendJson(res, status, payload, headers);
    };

    while (hanging) await hanging;
    if (delayMs > 0) await sleep(delayMs);
    if (failures.left > 0) {
      failures.left--;
      return answer(failures.status, authError("server_error", "stand-in injected failure"));
    }
    if (rateLimits.left > 0) {
      rateLimits.left--;
      const message = `Rate limit exceeded the maximum. Retry the request in [${rateLimits.retryAfter}] seconds`;
      return answer(429, errorBody(429, "too.many.requests.retry.after", message), {
        "retry-after": String(rateLimits.retryAfter),
      });
    }
    if (req.method !== "POST") return answer(405, authError("invalid_request", "method not allowed"));
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType ?? "")) {
      return answer(400, authError("invalid_request", "content type must be application/x-www-form-urlencoded"));
    }
    if (body === undefined) return answer(400, authError("invalid_request", "body too large"));
    const client = basic ? clients.get(basic.clientId) : undefined;
    if (!basic || !client || client.clientSecret !== basic.clientSecret) {
      return answer(401, authError("invalid_client", "authentication failed"));
    }
    const form = new URLSearchParams(body);
    const grant = form.getAll("grant_type");
    if (grant.length !== 1) return answer(400, authError("invalid_request", "grant_type is required"));
    const key = client.accessKey;
    if (grant[0] !== (key ? "password" : "client_credentials")) {
      return answer(400, authError("unsupported_grant_type", `grant type ${grant[0]} is not supported`));
    }
    if (key && (form.getAll("username").join() !== key.id || form.getAll("password").join() !== key.secret)) {
      return answer(400, authError("invalid_grant", "invalid username or password"));
    }
    const accessToken = randomBytes(32).toString("base64url");
    issuedTokens.set(accessToken, {
      clientId: client.clientId,
      ...(key ? { accessKeyId: key.id } : {}),
      divisions: [...client.divisions],
      expiresAtMs: now() + client.expiresIn * 1000,
    });
    const base = { access_token: accessToken, token_type: "bearer", expires_in: client.expiresIn };
    // CXone also returns a refresh token and an id token; scopegate reads neither.
    answer(200, key ? { ...base, refresh_token: randomBytes(16).toString("base64url"), id_token: "stand-in", issued_token_type: "urn:ietf:params:oauth:token-type:access_token" } : base);
  }

  function api(req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
    const bearer = parseBearer(req);
    const issued = bearer === undefined ? undefined : issuedTokens.get(bearer);
    const valid = issued !== undefined && issued.expiresAtMs > now();
    const status = valid ? 200 : 401;
    const sni = (req.socket as Partial<TLSSocket>).servername;
    received.push({
      sni: typeof sni === "string" ? sni : null,
      host: (req.headers[":authority"] as string | undefined) ?? req.headers.host ?? "",
      httpVersion: req.httpVersion,
      method: req.method ?? "",
      path,
      query,
      headers: [...req.rawHeaders],
      status,
      tokenClientId: valid ? issued.clientId : null,
      tokenDivisions: valid ? [...issued.divisions] : null,
    });
    req.resume();
    if (!valid) return sendJson(res, 401, errorBody(401, "bad.credentials", "Invalid login credentials."));
    sendJson(res, 200, { ok: true, clientId: issued.clientId, divisions: issued.divisions, query });
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const path = q === -1 ? raw : raw.slice(0, q);
    const query = q === -1 ? "" : raw.slice(q + 1);
    if (path === "/oauth/token" || path === "/auth/token") {
      token(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, authError("server_error", String(err)));
      });
    } else if (path.startsWith("/api/v2/") || path.startsWith("/incontactapi/")) {
      api(req, res, path, query);
    } else {
      req.resume();
      sendJson(res, 404, errorBody(404, "not.found", `no route for ${path}`));
    }
  };
  const tls = opts.tls;
  const server = !tls
    ? http.createServer(handler)
    : tls.http2
      ? http2.createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true, secureOptions: NO_RESUMPTION }, handler as never)
      : https.createServer({ key: tls.key, cert: tls.cert, ALPNProtocols: ["http/1.1"], secureOptions: NO_RESUMPTION }, handler);
  const sessions = new Set<{ destroy(): void }>();
  server.on(tls ? "secureConnection" : "connection", (socket: { destroy(): void; once(e: string, f: () => void): void }) => {
    sessions.add(socket);
    socket.once("close", () => sessions.delete(socket));
  });
  const bindHost = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, bindHost, () => resolve());
  });
  const url = `${tls ? "https" : "http"}://${bindHost}:${(server.address() as AddressInfo).port}`;

  function hang(on: boolean): void {
    if (on && !hanging) hanging = new Promise<void>((resolve) => (release = resolve));
    if (!on && hanging) {
      hanging = undefined;
      release?.();
    }
  }

  return {
    url,
    tokenUrl: `${url}/oauth/token`,
    cxoneTokenUrl: `${url}/auth/token`,
    issuedTokens,
    get received() {
      return received;
    },
    get tokenCalls() {
      return tokenCalls;
    },
    get tokenRequests() {
      return tokenRequests;
    },
    tokenRequestsFor: (clientId) => perClient.get(clientId) ?? 0,
    addClient(client) {
      if (clients.has(client.clientId)) throw new Error(`stand-in: client ${client.clientId} already exists`);
      clients.set(client.clientId, { expiresIn: client.accessKey ? 3600 : 86_400, ...client, divisions: [...client.divisions] });
    },
    rotateSecret(clientId, newSecret) {
      const client = clients.get(clientId);
      if (!client) throw new Error(`stand-in: unknown client ${clientId}`);
      client.clientSecret = newSecret;
    },
    setAccessKey(clientId, accessKey) {
      const client = clients.get(clientId);
      if (!client?.accessKey) throw new Error(`stand-in: no CXone client ${clientId}`);
      client.accessKey = { ...accessKey };
    },
    setDelayMs: (ms) => void (delayMs = ms),
    failNext: (count, status) => void (failures = { left: count, status }),
    rateLimitNext: (count, retryAfter) => void (rateLimits = { left: count, retryAfter }),
    hang,
    receivedMismatches: () =>
      received.filter(
        (r) => r.tokenDivisions !== null && queryDivisionIds(r.query).some((d) => !r.tokenDivisions!.includes(d)),
      ).length,
    reset() {
      received = [];
      tokenCalls = [];
      perClient = new Map();
      tokenRequests = 0;
      delayMs = 0;
      failures = { left: 0, status: 500 };
      rateLimits = { left: 0, retryAfter: 1 };
      hang(false);
    },
    async close() {
      hang(false);
      for (const socket of sessions) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Wire-level pieces of the Genesys Cloud stand-in: what it records, response bodies, request parsing.
// Shapes follow the Genesys Cloud SDKs' models: token errors as platform-client-sdk-go `AuthErrorResponse`
// (error, description, error_description), API errors as the `ErrorBody` model (message, code, status), and 429
// with Retry-After in integer seconds (terraform-provider-genesyscloud util_retries.go GetRetryAfterDelay).
import type { IncomingMessage, ServerResponse } from "node:http";

export interface ReceivedRequest {
  method: string;
  path: string;
  /** Raw query string without the leading "?" ("" if none). */
  query: string;
  /** req.rawHeaders: [name, value, name, value, ...] as sent, duplicates kept. */
  headers: string[];
  /** Status the stand-in answered: 200, or 401 when the bearer token was missing/unknown/expired/duplicated. */
  status: number;
  tokenClientId: string | null;
  tokenDivisions: string[] | null;
  /** The TLS server name (SNI) the client asked for; null on plain HTTP. */
  sni: string | null;
  /** The Host (HTTP/1.1) or :authority (HTTP/2) the request carried. */
  host: string;
  /** "1.1" or "2.0". */
  httpVersion: string;
}

export interface TokenCall {
  /** From the Basic header, whether or not the secret was right; null if the header was unusable. */
  clientId: string | null;
  contentType: string | null;
  body: string | null;
  status: number;
}

/** Token endpoint error body (Go SDK `AuthErrorResponse`: error, description, error_description). */
export function authError(error: string, description: string): Record<string, string> {
  return { error, description, error_description: description };
}

/** API error body (`ErrorBody` model: message, code, status). */
export function errorBody(status: number, code: string, message: string): Record<string, unknown> {
  return { message, code, status };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const MAX_BODY_BYTES = 64 * 1024;

/** Reads the request body (bounded); resolves undefined if it is too large. */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** All values of one header from req.rawHeaders (node drops duplicate Authorization from req.headers). */
export function headerValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) values.push(req.rawHeaders[i + 1]!);
  }
  return values;
}

/** `Authorization: Basic base64(id:secret)` (RFC 6749 §2.3.1); undefined unless exactly one well-formed header. */
export function parseBasic(req: IncomingMessage): { clientId: string; clientSecret: string } | undefined {
  const values = headerValues(req, "authorization");
  if (values.length !== 1) return undefined;
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(values[0]!.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return undefined;
  return { clientId: decoded.slice(0, colon), clientSecret: decoded.slice(colon + 1) };
}

/** `Authorization: Bearer <token>`; undefined unless exactly one such header (a duplicate is a caller bug). */
export function parseBearer(req: IncomingMessage): string | undefined {
  const values = headerValues(req, "authorization");
  if (values.length !== 1) return undefined;
  const match = /^Bearer ([^\s,]+)$/i.exec(values[0]!.trim());
  return match?.[1];
}

/**
 * Division ids in a raw query string: `divisionId`/`divisionIds`, repeated keys and comma-joined values
 * (docs/genesys-facts.md, "The division query parameter").
 */
export function queryDivisionIds(rawQuery: string): string[] {
  const params = new URLSearchParams(rawQuery);
  return [...params.getAll("divisionId"), ...params.getAll("divisionIds")]
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

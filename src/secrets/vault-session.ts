/**
 * A logged-in node-vault client that stays logged in: token, Kubernetes (service-account JWT) or AppRole
 * auth; the Vault token is renewed at ~2/3 of its TTL (POST /v1/auth/token/renew-self) and scopegate
 * logs in again when renewal fails. Only this file and vault-secret-store.ts touch node-vault.
 */
import { readFile } from "node:fs/promises";
import nodeVault from "node-vault";
import type { Logger } from "pino";
import type { VaultBackendConfig } from "../config/index.js";

export type SecretSource = (ref: { file?: string | undefined; env?: string | undefined }) => Promise<string>;

export interface VaultSessionDeps {
  readonly config: VaultBackendConfig;
  readonly readSecret: SecretSource;
  readonly logger: Logger;
  readonly caPem?: string | undefined;
  /** Told of each login and each renewal (observability; the tests count them). */
  readonly onLogin?: () => void;
  readonly onRenewal?: () => void;
}

export class VaultSession {
  readonly client: nodeVault.client;
  #loggedIn: Promise<void> | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly deps: VaultSessionDeps) {
    const { config } = deps;
    this.client = nodeVault({
      apiVersion: "v1",
      endpoint: config.address.replace(/\/$/, ""),
      ...(config.namespace ? { namespace: config.namespace } : {}),
      // TLS verification is never disabled; a custom CA bundle may be given.
      requestOptions: { timeout: config.requestTimeoutMs, ...(deps.caPem ? { ca: deps.caPem } : {}) },
    });
  }

  /** Resolves once a token is in place; concurrent callers share one login. */
  ready(): Promise<void> {
    this.#loggedIn ??= this.#login().catch((err: unknown) => {
      this.#loggedIn = undefined;
      throw err;
    });
    return this.#loggedIn;
  }

  /** Forget the current token (e.g. after a 403) so the next call logs in again. */
  invalidate(): void {
    this.#loggedIn = undefined;
  }

  close(): void {
    this.#closed = true;
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
  }

  async #login(): Promise<void> {
    const { config, readSecret } = this.deps;
    const auth = config.auth;
    let ttlSeconds: number;
    let renewable: boolean;
    switch (auth.method) {
      case "token": {
        this.client.token = (await readSecret(auth.token)).trim();
        const self = await this.client.tokenLookupSelf();
        ttlSeconds = Number(self?.data?.ttl ?? 0);
        renewable = Boolean(self?.data?.renewable);
        break;
      }
      case "kubernetes": {
        const jwt = (await readFile(auth.jwtFile, "utf8")).trim();
        const res = await this.client.kubernetesLogin({ role: auth.role, jwt, mount_point: auth.mountPath });
        ({ ttlSeconds, renewable } = leaseOf(res));
        break;
      }
      case "approle": {
        const secretId = (await readSecret(auth.secretId)).trim();
        const res = await this.client.approleLogin({ role_id: auth.roleId, secret_id: secretId, mount_point: auth.mountPath });
        ({ ttlSeconds, renewable } = leaseOf(res));
        break;
      }
    }
    this.deps.onLogin?.();
    this.deps.logger.info({ method: auth.method, ttlSeconds, renewable }, "vault login");
    this.#scheduleRenewal(ttlSeconds, renewable);
  }

  #scheduleRenewal(ttlSeconds: number, renewable: boolean): void {
    if (this.#renewTimer) clearTimeout(this.#renewTimer);
    if (this.#closed || ttlSeconds <= 0) return; // ttl 0 = a root/non-expiring token
    const delayMs = Math.max(1000, Math.floor(ttlSeconds * 1000 * (2 / 3)));
    this.#renewTimer = setTimeout(() => void this.#renewOrRelogin(renewable), delayMs);
    this.#renewTimer.unref();
  }

  async #renewOrRelogin(renewable: boolean): Promise<void> {
    if (this.#closed) return;
    if (renewable) {
      try {
        const res = await this.client.tokenRenewSelf();
        const lease = leaseOf(res);
        this.deps.onRenewal?.();
        this.deps.logger.debug({ ttlSeconds: lease.ttlSeconds }, "vault token renewed");
        // Renewal past the max TTL returns a shorter lease: when it gets short, log in afresh instead.
        if (lease.ttlSeconds > 5) {
          this.#scheduleRenewal(lease.ttlSeconds, lease.renewable);
          return;
        }
      } catch (err) {
        this.deps.logger.warn({ status: statusOf(err) }, "vault token renewal failed; logging in again");
      }
    }
    if (this.deps.config.auth.method === "token") {
      this.deps.logger.error("vault token is not renewable and is expiring; provide a fresh token");
    }
    this.#loggedIn = undefined;
    try {
      await this.ready();
    } catch (err) {
      this.deps.logger.error({ status: statusOf(err) }, "vault login failed; will retry on next read");
    }
  }
}

function leaseOf(res: unknown): { ttlSeconds: number; renewable: boolean } {
  const auth = (res as { auth?: { lease_duration?: number; renewable?: boolean } } | undefined)?.auth;
  return { ttlSeconds: Number(auth?.lease_duration ?? 0), renewable: Boolean(auth?.renewable) };
}

/** Only the HTTP status leaves this module: node-vault errors carry the request, token header included. */
export function statusOf(err: unknown): number | string {
  const status = (err as { response?: { statusCode?: number } })?.response?.statusCode;
  if (typeof status === "number") return status;
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === "string" ? code : "error";
}

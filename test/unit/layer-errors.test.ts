// The one table from the lower layers' error codes to deny reasons (src/authz/layer-errors.ts): what each code
// becomes for an API call and for a gateway login, and that a denial without a Retry-After is a shared constant
// (a refused check allocates no error objects of its own).
import { describe, expect, it } from "vitest";
import { deny, DENY_REASONS } from "../../src/authz/deny-reasons.js";
import { denialOf, LAYER_ERRORS, type LayerError } from "../../src/authz/layer-errors.js";
import { CALLER_BINDING_ERRORS } from "../../src/tenants/caller-binding.js";
import { REGISTRY_ERRORS } from "../../src/tenants/registry.js";
import { TENANT_ID_ERRORS } from "../../src/tenants/tenant-id.js";
import { TOKEN_SOURCE_ERRORS, tokenSourceError } from "../../src/tokens/token-source-errors.js";
import { budgetError } from "../../src/budget/budget-errors.js";

const ALL: readonly LayerError[] = [
  ...Object.values(TENANT_ID_ERRORS),
  ...Object.values(CALLER_BINDING_ERRORS),
  ...Object.values(REGISTRY_ERRORS),
  ...Object.values(TOKEN_SOURCE_ERRORS),
  budgetError("exhausted", 1),
  budgetError("caller_share_exhausted", 1),
];

describe("layer errors -> deny reasons", () => {
  it.each([
    [TENANT_ID_ERRORS.missing, "tenant_missing", "login_refused"],
    [TENANT_ID_ERRORS.ambiguous, "tenant_ambiguous", "login_refused"],
    [TENANT_ID_ERRORS.invalid, "tenant_invalid", "login_refused"],
    [CALLER_BINDING_ERRORS.not_allowed, "caller_not_allowed", "login_refused"],
    [REGISTRY_ERRORS.unknown, "tenant_unknown", "login_refused"],
    [REGISTRY_ERRORS.store_unavailable, "secrets_unavailable", "secrets_unavailable"],
    [TOKEN_SOURCE_ERRORS.credentials_missing, "credentials_missing", "credentials_missing"],
    [TOKEN_SOURCE_ERRORS.store_unavailable, "secrets_unavailable", "secrets_unavailable"],
    [TOKEN_SOURCE_ERRORS.rejected, "token_rejected", "token_rejected"],
    [TOKEN_SOURCE_ERRORS.rate_limited, "token_rate_limited", "token_rate_limited"],
    [TOKEN_SOURCE_ERRORS.unavailable, "token_unavailable", "token_unavailable"],
    [TOKEN_SOURCE_ERRORS.deadline, "deadline_exceeded", "deadline_exceeded"],
    [TOKEN_SOURCE_ERRORS.tenant_unknown, "tenant_unknown", "tenant_unknown"],
    [TOKEN_SOURCE_ERRORS.internal, "internal_error", "internal_error"],
  ] as const)("%o: an API call is denied %s, a login %s", (error, api, login) => {
    expect(denialOf(error)).toEqual({ kind: "deny", reason: api });
    expect(denialOf(error, "login")).toEqual({ kind: "deny", reason: login });
  });

  it("a spent budget is a 429-class denial that carries the seconds left in the window", () => {
    expect(denialOf(budgetError("exhausted", 17))).toEqual({ kind: "deny", reason: "budget_exhausted", retryAfterSeconds: 17 });
    expect(denialOf(budgetError("caller_share_exhausted", 3))).toEqual({ kind: "deny", reason: "caller_share_exhausted", retryAfterSeconds: 3 });
    expect(DENY_REASONS.budget_exhausted.status).toBe(429);
    expect(DENY_REASONS.caller_share_exhausted.status).toBe(429);
  });

  it("every code of every layer has a row, and every row names a deny reason", () => {
    for (const e of ALL) expect(Object.keys(LAYER_ERRORS[e.kind])).toContain(e.code);
    const rows = Object.values(LAYER_ERRORS).flatMap((codes) => Object.values(codes) as { api: string; login: string }[]);
    expect(rows).toHaveLength(ALL.length);
    for (const row of rows) expect(Object.keys(DENY_REASONS)).toEqual(expect.arrayContaining([row.api, row.login]));
  });

  it("a code without a Retry-After becomes the same frozen denial every time", () => {
    // Budget errors always carry the seconds left in the window (they are frozen, one per code and pause).
    for (const e of ALL.filter((x) => !("retryAfterSeconds" in x))) {
      expect(Object.isFrozen(e)).toBe(true);
      expect(denialOf(e)).toBe(denialOf(e));
      expect(denialOf(e)).toBe(deny(denialOf(e).reason));
      expect(Object.isFrozen(denialOf(e))).toBe(true);
    }
  });

  it("a pause reported by the token source reaches the denial as its Retry-After", () => {
    expect(denialOf(tokenSourceError("rate_limited", 7))).toEqual(deny("token_rate_limited", 7));
    expect(denialOf(tokenSourceError("rejected", 30), "login")).toEqual({ kind: "deny", reason: "token_rejected", retryAfterSeconds: 30 });
    expect(tokenSourceError("unavailable")).toBe(TOKEN_SOURCE_ERRORS.unavailable);
  });
});

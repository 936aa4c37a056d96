/**
 * Why the request budget refused a request, as values of this layer (the authorizer maps them to deny reasons in
 * src/authz/layer-errors.ts). Both carry the seconds left in the window as the pause.
 */
export type BudgetErrorCode = "exhausted" | "caller_share_exhausted";

export interface BudgetError {
  readonly kind: "budget";
  readonly code: BudgetErrorCode;
  readonly retryAfterSeconds: number;
}

/** The one value a granted request gets: nothing is allocated for it. */
export const SPENT = Object.freeze({ kind: "spent" as const });
export type Spent = typeof SPENT;

export type BudgetVerdict = Spent | BudgetError;

const MEMO = new Map<string, BudgetError>();

/** One frozen error per code and pause (at most a window's seconds of each). */
export function budgetError(code: BudgetErrorCode, retryAfterSeconds: number): BudgetError {
  const key = `${code}:${retryAfterSeconds}`;
  let e = MEMO.get(key);
  if (e === undefined) {
    e = Object.freeze({ kind: "budget", code, retryAfterSeconds });
    if (MEMO.size < 8192) MEMO.set(key, e);
  }
  return e;
}

export function isBudgetError(v: BudgetVerdict): v is BudgetError {
  return v.kind === "budget";
}

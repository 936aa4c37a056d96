// Config fragments that point a tenant environment at a plain-HTTP Genesys stand-in on loopback: the
// `environments` table is the only place a token URL can come from, and plain http needs the testing flag.

/** The environment test tenants live in (a real Genesys Cloud environment name; its token URL is overridden). */
export const TEST_ENV = "mypurecloud.com";

export function standinEnvironments(tokenUrl: string): {
  environments: Record<string, { tokenUrl: string }>;
  allowPlainHttpLoopbackForTesting: true;
} {
  return { environments: { [TEST_ENV]: { tokenUrl } }, allowPlainHttpLoopbackForTesting: true };
}

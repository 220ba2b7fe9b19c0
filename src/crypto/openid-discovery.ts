/** The parts of an OpenID provider's metadata (OpenID Connect Discovery 1.0 §3) Strongroom uses. */
export interface OpenIdConfiguration {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string | undefined;
  token_endpoint?: string | undefined;
  userinfo_endpoint?: string | undefined;
}

/** Reads an issuer's discovery document, refusing one that names another issuer or no JWKS. */
export async function fetchOpenIdConfiguration(
  issuer: string,
  fetchImpl: typeof fetch = fetch,
): Promise<OpenIdConfiguration> {
  const response = await fetchImpl(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`discovery of ${issuer} answered ${response.status}`);
  const document = (await response.json()) as Record<string, unknown>;
  // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
  if (document.issuer !== issuer || typeof document.jwks_uri !== "string") {
    throw new Error(`discovery document of ${issuer} names another issuer or no jwks_uri`);
  }
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  return {
    issuer,
    jwks_uri: document.jwks_uri,
    authorization_endpoint: text(document.authorization_endpoint),
    token_endpoint: text(document.token_endpoint),
    userinfo_endpoint: text(document.userinfo_endpoint),
  };
}

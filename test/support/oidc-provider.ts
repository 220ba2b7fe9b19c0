import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export interface TestOpenIdProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers the relying party's redirect URI and starts answering; call once it is known. */
  serve(redirectUri: string): void;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (the oidc-provider package) on a loopback port, with its
 * development login form: any login name signs in as that name, which it returns as
 * preferred_username. The port is taken before the relying party starts, so the issuer URL can be
 * configured; the client is registered once the relying party's redirect URI is known.
 */
export async function startOpenIdProvider(): Promise<TestOpenIdProvider> {
  const server: Server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "strongroom-dashboard";
  const clientSecret = "a-client-secret-only-for-this-test";
  return {
    issuer,
    clientId,
    clientSecret,
    serve(redirectUri) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ["authorization_code"],
            response_types: ["code"],
            token_endpoint_auth_method: "client_secret_basic",
          },
        ],
        claims: { openid: ["sub"], profile: ["preferred_username", "name"], email: ["email"] },
        findAccount: (_context, id) => ({
          accountId: id,
          claims: () => ({ sub: id, preferred_username: id, name: id, email: `${id}@example.test` }),
        }),
        cookies: { keys: ["cookie-key-only-for-this-test"] },
        features: { devInteractions: { enabled: true } },
      });
      server.on("request", provider.callback());
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

import type { Clock } from "../clock.js";
import { DomainError } from "../errors.js";
import type { SignedIn } from "./model.js";
import type { OpenIdProvider, SessionTokens } from "./ports.js";
import type { SignInService } from "./sign-in-service.js";
import type { UserService } from "./user-service.js";

export interface SingleSignOnDeps {
  provider: OpenIdProvider;
  tokens: SessionTokens;
  users: Pick<UserService, "forSignOn">;
  signIn: Pick<SignInService, "signInAs">;
  clock: Clock;
  /** The ID token claim that names the local user, e.g. preferred_username or email. */
  usernameClaim: string;
  /** Whether a first sign-in of an unknown name creates the user (without any role). */
  provisionUsers: boolean;
}

export type SingleSignOn = ReturnType<typeof createSingleSignOn>;

/** How long a browser may spend at the identity provider between leaving and coming back. */
export const SIGN_ON_STATE_TTL_MS = 10 * 60_000;

const refused = (message: string) => new DomainError("Unauthorized", message, { reason: "SignOnFailed" });

/**
 * OpenID Connect sign-in with the authorization code flow and PKCE (OpenID Connect Core §3.1,
 * RFC 7636). The state travels in the browser (its cookie and the redirect); the nonce and the code
 * verifier derive from it under the installation's key, so any node can finish what another began.
 */
export function createSingleSignOn(deps: SingleSignOnDeps) {
  const { provider, tokens, users, signIn, clock } = deps;
  return {
    /** Where to send the browser, and the state its cookie must hold when it returns. */
    async begin(): Promise<{ url: string; state: string }> {
      const state = tokens.issueState(clock.now());
      const url = await provider.authorizationUrl({
        state,
        nonce: tokens.nonce(state),
        codeChallenge: tokens.pkce(state).challenge,
      });
      return { url, state };
    },

    /**
     * Finishes a sign-on: the state returned must be the one this browser was given (RFC 6749
     * §10.12) and recent; the code is redeemed with its PKCE verifier, the ID token verified with
     * its nonce, and the configured claim names the user.
     */
    async complete(callback: {
      state: string | undefined;
      browserState: string | undefined;
      code: string | undefined;
      error: string | undefined;
    }): Promise<SignedIn> {
      if (callback.error) throw refused(`The identity provider refused the sign-in: ${callback.error}`);
      const { state, browserState, code } = callback;
      if (!state || !browserState || state !== browserState) {
        throw refused("The sign-in did not start in this browser, or its cookie expired; sign in again.");
      }
      const issuedAt = tokens.stateIssuedAt(state);
      if (!issuedAt || clock.now().getTime() - issuedAt.getTime() > SIGN_ON_STATE_TTL_MS) {
        throw refused("The sign-in took too long or was not started here; sign in again.");
      }
      if (!code) throw refused("The identity provider returned no authorization code.");
      const claims = await provider.redeem({
        code,
        codeVerifier: tokens.pkce(state).verifier,
        nonce: tokens.nonce(state),
      });
      const name = claims[deps.usernameClaim];
      if (typeof name !== "string" || name === "") {
        throw refused(`The ID token has no ${deps.usernameClaim} claim to name the user by.`);
      }
      const user = await users.forSignOn(name, deps.provisionUsers);
      return signIn.signInAs(user, "oidc");
    },
  };
}

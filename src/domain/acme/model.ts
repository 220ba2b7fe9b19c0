/**
 * How the ACME adapter proves control of each name (RFC 8555 §8):
 * - http-01 `responder`: Strongroom's own plain-HTTP challenge responder answers (acmeHttpPort);
 * - http-01 `webroot`: the key authorization is written under `{webroot}/.well-known/acme-challenge/`
 *   for a web server that already serves the name;
 * - http-01 or dns-01 `hook`: a command is run to present and later clean up the challenge;
 * - dns-01 `webhook`: a JSON POST asks a DNS automation endpoint to set and remove the TXT record.
 */
export type ChallengeSettings =
  | { type: "http-01"; solver: "responder" }
  | { type: "http-01"; solver: "webroot"; webroot: string }
  | { type: "http-01" | "dns-01"; solver: "hook"; command: string }
  | { type: "dns-01"; solver: "webhook"; webhookUrl: string };

/** What an issuer whose provider is ACME needs beyond Key Vault's issuer fields. */
export interface AcmeIssuerSettings {
  vaultId: string;
  issuerName: string;
  /** The CA's RFC 8555 directory, e.g. https://acme-v02.api.letsencrypt.org/directory. */
  directoryUrl: string;
  /** Account contacts as URLs (`mailto:ops@example.com`). */
  contacts: string[];
  challenge: ChallengeSettings;
  createdAt: Date;
  updatedAt: Date;
}

/** The ACME account of one issuer at one directory; the key is sealed. */
export interface AcmeAccount {
  vaultId: string;
  issuerName: string;
  directoryUrl: string;
  sealedKey: Buffer;
  /** The account's URL (the JWS `kid`) once the CA has registered it. */
  accountUrl?: string | undefined;
}

/** A challenge presented for an order, kept so it can be cleaned up when the order ends. */
export interface PresentedChallenge {
  type: "http-01" | "dns-01";
  identifier: string;
  token: string;
  keyAuthorization: string;
}

/** An order in flight for one certificate operation. */
export interface AcmeOrder {
  requestId: string;
  vaultId: string;
  /** The issuer whose settings say how to clean the challenges up. */
  issuerName: string;
  orderUrl: string;
  presented: PresentedChallenge[];
  createdAt: Date;
}

/** RFC 9773 renewal information kept for one issued certificate version. */
export interface RenewalInfo {
  vaultId: string;
  name: string;
  version: string;
  issuerName: string;
  /** `{renewalInfo}/{certID}`, asked again at `nextCheckAt`. */
  renewalInfoUrl: string;
  /** The time chosen inside the CA's suggested window; undefined until the CA answered. */
  renewAt?: Date | undefined;
  nextCheckAt: Date;
}

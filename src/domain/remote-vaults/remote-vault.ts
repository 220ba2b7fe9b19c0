import type { LocationDetail } from "../inventory/observation.js";

/**
 * How Strongroom reaches one remote vault: Azure Key Vault today; AWS ACM, Google Certificate Manager
 * and Kubernetes Secrets later, each a connector behind this same port. Settings are what may be
 * shown (tenant, client id, region, CA certificate); the secret fields (a client secret, a private
 * key) are sealed at rest and handed to the connector only in memory.
 */
export interface RemoteVaultConnection {
  /** The vault's endpoint, as its own clients name it (e.g. `https://contoso.vault.azure.net`). */
  readonly url: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly secret: Readonly<Record<string, string>>;
}

/** One certificate (one version of it, where the vault keeps versions) as the remote vault holds it. */
export interface RemoteCertificate {
  readonly der: Uint8Array;
  /** Issuer certificates the vault returns with it, if any. */
  readonly chain?: readonly Uint8Array[];
  /** The place in the connector's own URI scheme, e.g. `akv://{host}/certificates/{name}/{version}`. */
  readonly location: string;
  /** What the vault says about it: names, state, policy (issuer, lifetime actions), tags. */
  readonly detail: LocationDetail;
}

/** A connector: one implementation per kind of remote vault. */
export interface RemoteVaultConnector {
  /** The kind it serves, e.g. `azure-key-vault`; stored with each remote vault. */
  readonly kind: string;
  /** The observation source its certificates are reported as. */
  readonly source: "akv";
  /** Names the settings and secret fields it needs; throws BadParameter for a connection it cannot use. */
  validate(connection: RemoteVaultConnection): void;
  /**
   * Every certificate the vault holds, read with the connection's credential. Throws DomainError:
   * `Unavailable` when the vault cannot be reached, `BadParameter` when it refuses the credential.
   */
  certificates(connection: RemoteVaultConnection, signal: AbortSignal): AsyncIterable<RemoteCertificate>;
  /**
   * Imports a certificate with its key as a new version of `name` (a push target's delivery);
   * returns the version the vault made. Throws DomainError as `certificates` does.
   */
  importCertificate(
    connection: RemoteVaultConnection,
    name: string,
    bundle: CertificateBundle,
    signal: AbortSignal,
  ): Promise<string>;
}

/** A certificate and its private key as Key Vault hands them out: a certificate's secret value. */
export interface CertificateBundle {
  /** PEM text, or base64 of a PKCS#12 file. */
  readonly value: string;
  readonly contentType: "application/x-pem-file" | "application/x-pkcs12";
}

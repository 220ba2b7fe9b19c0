/**
 * What every certificate source tells the inventory: this certificate was seen at this place.
 * Vault changes, CA and ACME issuance, network scans, agents' file scans and remote-vault connectors
 * all speak this one shape, so the inventory never needs to know which scanner or connector ran.
 */

/** Where an observation came from; also the scheme family of its location URI. */
export type ObservationSource = "vault" | "ca" | "acme" | "tls" | "file" | "akv";

/** Scalar facts about the place, such as TLS version and cipher or a file's owner and mode. */
export type LocationDetail = Readonly<Record<string, string | number | boolean | null>>;

/** An owner as a place names it; every field optional. */
export interface ObservedOwner {
  readonly team?: string | undefined;
  readonly application?: string | undefined;
  readonly contact?: string | undefined;
}

export interface Observation {
  /** The certificate's DER; the inventory keys its record by the SHA-256 of these bytes. */
  readonly der: Uint8Array;
  /** Certificates presented with it (issuers first), so chain links can be recorded. */
  readonly chain?: readonly Uint8Array[];
  /**
   * The place as a URI: `tls://10.0.0.5:443?sni=www.example.com`, `file://{agent}/etc/nginx/cert.pem`,
   * `vault://{vault}/certificates/{name}/{version}`, `akv://{host}/certificates/{name}/{version}`,
   * `ca://{ca}/{serial}`.
   */
  readonly location: string;
  readonly source: ObservationSource;
  readonly seenAt: Date;
  readonly detail?: LocationDetail;
  /**
   * Who owns the certificate, as the place names it (a vault version's or remote vault's tags).
   * Applied unless an owner was set on the inventory record itself.
   */
  readonly owner?: ObservedOwner | undefined;
}

/**
 * Takes observations into the inventory. A source that enumerates a whole scope (one scan run, one
 * remote vault sync, one agent's file roots) reports what it no longer sees with `forget`, so the
 * inventory can mark those locations gone without the source knowing how records are stored.
 */
export interface ObservationSink {
  observe(observations: readonly Observation[]): Promise<void>;
  /** Marks locations no longer present as gone at `at`; unknown locations are ignored. */
  forget(locations: readonly string[], at: Date): Promise<void>;
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/**
 * `file://{agent}/path`, with a fragment naming one certificate among several in the file: where
 * an agent's file scan found a certificate, or where its sync delivered one.
 */
export function fileLocation(agent: string, path: string, fragment?: string): string {
  return `file://${agent}${encodePath(path)}${fragment ? `#${fragment}` : ""}`;
}

import type { AcmeAccount, AcmeIssuerSettings, AcmeOrder, RenewalInfo } from "./model.js";

/** Where ACME settings, accounts, orders, challenges and renewal information are kept. */
export interface AcmeStore {
  /** The ACME settings of an issuer (case-insensitive name). */
  getSettings(vaultId: string, issuerName: string): Promise<AcmeIssuerSettings | undefined>;
  listSettings(vaultId: string): Promise<AcmeIssuerSettings[]>;
  /** Inserts or replaces an issuer's settings. */
  putSettings(settings: AcmeIssuerSettings): Promise<void>;
  deleteSettings(vaultId: string, issuerName: string): Promise<boolean>;
  getAccount(vaultId: string, issuerName: string, directoryUrl: string): Promise<AcmeAccount | undefined>;
  /** Stores the account unless one exists for the issuer and directory; returns the stored one. */
  putAccountIfAbsent(account: AcmeAccount): Promise<AcmeAccount>;
  /** Records the URL the CA gave the account. */
  setAccountUrl(account: AcmeAccount, accountUrl: string): Promise<void>;
  getOrder(requestId: string): Promise<AcmeOrder | undefined>;
  putOrder(order: AcmeOrder): Promise<void>;
  deleteOrder(requestId: string): Promise<void>;
  /**
   * Orders placed before `placedBefore` whose certificate operation is no longer in progress
   * (cancelled, deleted, replaced); younger ones may not have their operation stored yet.
   */
  abandonedOrders(placedBefore: Date, limit: number): Promise<AcmeOrder[]>;
  /** The key authorization for an http-01 token, for whichever node the CA asks. */
  getChallenge(token: string): Promise<string | undefined>;
  putChallenge(token: string, keyAuthorization: string, at: Date): Promise<void>;
  deleteChallenge(token: string): Promise<void>;
  putRenewalInfo(info: RenewalInfo): Promise<void>;
  /** Forgets renewal information of versions that are no longer their certificate's latest (renewed, deleted). */
  pruneRenewalInfo(): Promise<number>;
  /** Renewal information whose next check has come. */
  dueRenewalInfo(now: Date, limit: number): Promise<RenewalInfo[]>;
  /** The chosen renewal times of these versions, keyed `vaultId/name(lower-case)/version`. */
  renewalTimes(versions: { vaultId: string; name: string; version: string }[]): Promise<Map<string, Date>>;
}

export const renewalKey = (v: { vaultId: string; name: string; version: string }): string =>
  `${v.vaultId}/${v.name.toLowerCase()}/${v.version}`;

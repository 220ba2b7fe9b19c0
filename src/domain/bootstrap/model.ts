/** What `<data-dir>/admin.json` holds: everything @azure/identity and a SecretClient need. */
export interface AdminCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
  vaultUrl: string;
  caFile?: string | undefined;
}

export type PrincipalKind = "servicePrincipal" | "user";

export interface Principal {
  /** Object id (`oid` in tokens). */
  id: string;
  /** Application id (`appid` / `client_id`). */
  clientId: string;
  displayName: string;
  kind: PrincipalKind;
  enabled: boolean;
  createdAt: Date;
}

/** A client secret as stored: only a salted hash and a short hint to recognise it by. */
export interface ClientSecretRecord {
  id: string;
  principalId: string;
  hash: string;
  hint: string;
  expiresAt?: Date | undefined;
  createdAt: Date;
}

/** Who is calling, as proven by a verified access token. */
export interface Caller {
  principalId: string;
  clientId: string;
  tenantId: string;
}

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  oid: string;
  appid: string;
  tid: string;
  iat: number;
  nbf: number;
  exp: number;
}

export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}

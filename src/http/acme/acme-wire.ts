import type {
  AcmeAccount,
  AcmeAuthorization,
  AcmeChallenge,
  AcmeOrder,
} from "../../domain/acme-server/model.js";

const PROBLEM = "urn:ietf:params:acme:error:";

/** The URLs of one directory, from the request's host and the profile in its path. */
export interface AcmeUrls {
  base: string;
  directory: string;
  account(id: string): string;
  /** RFC 8555 §7.1.2.1: the account's orders list. */
  orders(id: string): string;
  order(id: string): string;
  finalize(id: string): string;
  authz(id: string): string;
  challenge(id: string): string;
  certificate(id: string): string;
}

export function acmeUrls(host: string, profile: string): AcmeUrls {
  const base = `https://${host}/acme/${profile}`;
  return {
    base,
    directory: `${base}/directory`,
    account: (id) => `${base}/account/${id}`,
    orders: (id) => `${base}/account/${id}/orders`,
    order: (id) => `${base}/order/${id}`,
    finalize: (id) => `${base}/order/${id}/finalize`,
    authz: (id) => `${base}/authz/${id}`,
    challenge: (id) => `${base}/chall/${id}`,
    certificate: (id) => `${base}/cert/${id}`,
  };
}

const problem = (p: { type: string; detail: string; status: number } | undefined) =>
  p && { type: `${PROBLEM}${p.type}`, detail: p.detail, status: p.status };

/** RFC 8555 §7.1.2. */
export const accountWire = (a: AcmeAccount, urls: AcmeUrls) => ({
  status: a.status,
  contact: a.contacts,
  orders: urls.orders(a.id),
  createdAt: a.createdAt.toISOString(),
});

/** RFC 8555 §7.1.3. */
export const orderWire = (o: AcmeOrder, urls: AcmeUrls, profile: string) => ({
  status: o.status,
  expires: o.expiresAt.toISOString(),
  identifiers: o.identifiers,
  ...(o.notBefore && { notBefore: o.notBefore.toISOString() }),
  ...(o.notAfter && { notAfter: o.notAfter.toISOString() }),
  authorizations: o.authzIds.map(urls.authz),
  finalize: urls.finalize(o.id),
  profile,
  ...(o.certificateSerial && o.status === "valid" && { certificate: urls.certificate(o.id) }),
  ...(o.error && { error: problem(o.error) }),
  ...(o.replaces && { replaces: o.replaces }),
});

/** RFC 8555 §8. */
export const challengeWire = (c: AcmeChallenge, urls: AcmeUrls) => ({
  type: c.type,
  url: urls.challenge(c.id),
  status: c.status,
  token: c.token,
  ...(c.validatedAt && { validated: c.validatedAt.toISOString() }),
  ...(c.error && { error: problem(c.error) }),
});

/** RFC 8555 §7.1.4. */
export const authorizationWire = (a: AcmeAuthorization, urls: AcmeUrls) => ({
  identifier: a.identifier,
  status: a.status,
  expires: a.expiresAt.toISOString(),
  challenges: a.challenges.map((c) => challengeWire(c, urls)),
  ...(a.wildcard && { wildcard: true }),
});

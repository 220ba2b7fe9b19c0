import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import type {
  ClientCertificateRecord,
  ClientSecretRecord,
  FederatedCredential,
  Principal,
  PrincipalKind,
} from "./model.js";
import type { CertificateInspector, PrincipalCredentials, PrincipalStore, SecretHasher } from "./ports.js";

export interface PrincipalServiceDeps {
  store: PrincipalStore;
  hasher: SecretHasher;
  inspector: CertificateInspector;
  clock: Clock;
  /** Called after every change, so cached rights of a disabled or deleted principal go at once. */
  onChange: () => Promise<void>;
}

export type PrincipalService = ReturnType<typeof createPrincipalService>;

export interface FederatedInput {
  name: string;
  issuer: string;
  subject: string;
  audiences?: string[] | undefined;
  jwks?: { keys: unknown[] } | undefined;
}

/** Azure's default audience for federated credentials. */
export const DEFAULT_FEDERATED_AUDIENCE = "api://AzureADTokenExchange";

const notFound = (id: string) =>
  new DomainError("NotFound", `Principal ${id} does not exist`, { reason: "PrincipalNotFound" });

/** Loopback issuers may speak plain HTTP (a local test or sidecar issuer); any other must be HTTPS. */
export function validIssuer(issuer: string): boolean {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

export function createPrincipalService({ store, hasher, inspector, clock, onChange }: PrincipalServiceDeps) {
  async function find(idOrClientId: string): Promise<PrincipalCredentials> {
    const found = (await store.findById(idOrClientId)) ?? (await store.findByClientId(idOrClientId));
    if (!found) throw notFound(idOrClientId);
    return found;
  }

  async function newSecret(principalId: string, expiresAt: Date | undefined) {
    const now = clock.now();
    if (expiresAt && expiresAt.getTime() <= now.getTime())
      throw badParameter("expiresAt must be in the future");
    const clientSecret = randomBytes(30).toString("base64url");
    const record: ClientSecretRecord = {
      id: newId(),
      principalId,
      hash: await hasher.hash(clientSecret),
      hint: clientSecret.slice(0, 3),
      expiresAt,
      createdAt: now,
    };
    return { record, clientSecret };
  }

  return {
    find,
    list: () => store.list(),

    /**
     * A principal by object id, client id or display name (people type names, not ids). Names are
     * not unique, so a name that several principals carry is refused with their ids to choose from.
     */
    async resolve(reference: string): Promise<PrincipalCredentials> {
      const byId = (await store.findById(reference)) ?? (await store.findByClientId(reference));
      if (byId) return byId;
      const wanted = reference.toLowerCase();
      const named = (await store.list()).filter((p) => p.displayName.toLowerCase() === wanted);
      const [only, ...others] = named;
      if (!only)
        throw new DomainError("NotFound", `No principal has the id, client id or name ${reference}`, {
          reason: "PrincipalNotFound",
        });
      if (others.length > 0)
        throw badParameter(
          `${named.length} principals are named ${reference}; give one of their ids: ${named
            .map((p) => `${p.id} (${p.kind})`)
            .join(", ")}`,
        );
      return find(only.id);
    },

    /**
     * Creates a user, service principal or group. Users and service principals get a first client
     * secret, returned once and kept only hashed; groups hold no credentials.
     */
    async create(
      displayName: string,
      kind: PrincipalKind = "servicePrincipal",
      secretExpiresAt?: Date,
    ): Promise<{ principal: Principal; clientSecret?: string | undefined; secretId?: string | undefined }> {
      if (!displayName.trim()) throw badParameter("displayName must not be empty");
      if (!["servicePrincipal", "user", "group"].includes(kind)) {
        throw badParameter(`kind must be servicePrincipal, user or group, got "${kind}"`);
      }
      const principal: Principal = {
        id: newId(),
        clientId: newId(),
        displayName,
        kind,
        enabled: true,
        createdAt: clock.now(),
      };
      if (kind === "group") {
        await store.insert(principal);
        return { principal };
      }
      const { record, clientSecret } = await newSecret(principal.id, secretExpiresAt);
      await store.insert(principal, record);
      return { principal, clientSecret, secretId: record.id };
    },

    async update(
      idOrClientId: string,
      changes: { displayName?: string; enabled?: boolean },
    ): Promise<Principal> {
      const { principal } = await find(idOrClientId);
      if (changes.displayName !== undefined && !changes.displayName.trim()) {
        throw badParameter("displayName must not be empty");
      }
      const next = { ...principal, ...changes };
      await store.update(next);
      await onChange();
      return next;
    },

    async remove(idOrClientId: string): Promise<void> {
      const { principal } = await find(idOrClientId);
      await store.remove(principal.id);
      await onChange();
    },

    /** A further client secret (for rotation), returned once. */
    async addSecret(idOrClientId: string, expiresAt?: Date) {
      const { principal } = await find(idOrClientId);
      if (principal.kind === "group") throw badParameter("Groups hold no credentials");
      const { record, clientSecret } = await newSecret(principal.id, expiresAt);
      await store.addSecret(record);
      return { id: record.id, hint: record.hint, expiresAt: record.expiresAt, clientSecret };
    },

    async removeSecret(idOrClientId: string, secretId: string): Promise<void> {
      const { principal } = await find(idOrClientId);
      if (!(await store.removeSecret(principal.id, secretId))) {
        throw new DomainError("NotFound", `Principal ${principal.id} has no client secret ${secretId}`);
      }
    },

    /** Registers a certificate whose key may sign client assertions; only its public part is kept. */
    async addCertificate(
      idOrClientId: string,
      encoded: Buffer,
      expiresAt?: Date,
    ): Promise<ClientCertificateRecord> {
      const { principal } = await find(idOrClientId);
      if (principal.kind === "group") throw badParameter("Groups hold no credentials");
      let facts: ReturnType<CertificateInspector["inspect"]>;
      try {
        facts = inspector.inspect(encoded);
      } catch (error) {
        throw new DomainError("BadParameter", "certificate is not a PEM or DER X.509 certificate", {
          cause: error,
        });
      }
      const now = clock.now();
      const until = expiresAt && expiresAt < facts.notAfter ? expiresAt : facts.notAfter;
      if (until.getTime() <= now.getTime()) throw badParameter("The certificate has expired");
      const record: ClientCertificateRecord = {
        id: newId(),
        principalId: principal.id,
        thumbprintSha1: facts.thumbprintSha1,
        thumbprintSha256: facts.thumbprintSha256,
        der: facts.der,
        expiresAt: until,
        createdAt: now,
      };
      await store.addCertificate(record);
      return record;
    },

    async removeCertificate(idOrClientId: string, certificateId: string): Promise<void> {
      const { principal } = await find(idOrClientId);
      if (!(await store.removeCertificate(principal.id, certificateId))) {
        throw new DomainError(
          "NotFound",
          `Principal ${principal.id} has no client certificate ${certificateId}`,
        );
      }
    },

    async addFederated(idOrClientId: string, input: FederatedInput): Promise<FederatedCredential> {
      const { principal } = await find(idOrClientId);
      if (principal.kind === "group") throw badParameter("Groups hold no credentials");
      if (!input.name?.trim()) throw badParameter("A federated credential needs a name");
      if (!validIssuer(input.issuer)) {
        throw badParameter(`issuer "${input.issuer}" must be an https URL (http only on loopback addresses)`);
      }
      if (!input.subject?.trim()) throw badParameter("A federated credential needs the subject it trusts");
      if (input.jwks !== undefined && !Array.isArray(input.jwks.keys)) {
        throw badParameter('jwks must be a JWK Set: { "keys": [...] }');
      }
      const credential: FederatedCredential = {
        id: newId(),
        principalId: principal.id,
        name: input.name.trim(),
        issuer: input.issuer,
        subject: input.subject,
        audiences: input.audiences?.length ? input.audiences : [DEFAULT_FEDERATED_AUDIENCE],
        jwks: input.jwks,
        createdAt: clock.now(),
      };
      await store.addFederated(credential);
      return credential;
    },

    async removeFederated(idOrClientId: string, credentialId: string): Promise<void> {
      const { principal } = await find(idOrClientId);
      if (!(await store.removeFederated(principal.id, credentialId))) {
        throw new DomainError(
          "NotFound",
          `Principal ${principal.id} has no federated credential ${credentialId}`,
        );
      }
    },
  };
}

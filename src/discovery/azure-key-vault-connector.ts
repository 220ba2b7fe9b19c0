import type { AuthenticationError, TokenCredential } from "@azure/identity";
import type { CertificateClient, CertificatePolicy } from "@azure/keyvault-certificates";
import { badParameter, DomainError } from "../domain/errors.js";
import type {
  RemoteCertificate,
  RemoteVaultConnection,
  RemoteVaultConnector,
} from "../domain/remote-vaults/remote-vault.js";

export const AZURE_KEY_VAULT = "azure-key-vault";

const SETTINGS = ["tenantId", "clientId", "authorityHost", "caPem", "disableChallengeResourceVerification"];
const SECRETS = ["clientSecret", "certificate"];

/** Network failures the Azure pipeline reports as RestError codes instead of HTTP statuses. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "REQUEST_SEND_ERROR",
]);

/** The Azure pipeline's RestError, known by name: its package is the SDK's, not one of ours. */
function isRestError(error: unknown): error is Error & { statusCode?: number; code?: string } {
  return error instanceof Error && error.name === "RestError";
}

/** @azure/identity's failures to get a token; a refused client secret surfaces as AuthenticationRequiredError. */
const CREDENTIAL_ERRORS = new Set([
  "AuthenticationError",
  "AuthenticationRequiredError",
  "CredentialUnavailableError",
  "AggregateAuthenticationError",
]);

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === "https:";
  } catch {
    return false;
  }
}

/** Key Vault lifetime actions in one line, e.g. `AutoRenew at 80% of lifetime; EmailContacts 30 days before expiry`. */
function lifetimeActions(policy: CertificatePolicy | undefined): string | null {
  const actions = policy?.lifetimeActions ?? [];
  if (actions.length === 0) return null;
  return actions
    .map((a) =>
      a.lifetimePercentage !== undefined
        ? `${a.action} at ${a.lifetimePercentage}% of lifetime`
        : `${a.action} ${a.daysBeforeExpiry} days before expiry`,
    )
    .join("; ");
}

/** What went wrong, in words that tell the administrator what to fix; never the credential itself. */
function explain(url: string, error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  // By name: @azure/identity's errors may come from another copy of the package than the one imported here.
  const name = (error as Error | undefined)?.name;
  if (name !== undefined && CREDENTIAL_ERRORS.has(name)) {
    const response = (error as Partial<AuthenticationError>).errorResponse;
    const raw = (response?.errorDescription || (error as Error).message).split("\n")[0] ?? "";
    // MSAL wraps the provider's description in boilerplate ("Error(s): … - Description: … - Correlation ID: …").
    const described = /Description: (.*?)(?: - Correlation ID|$)/.exec(raw)?.[1] ?? raw;
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code && UNREACHABLE.has(cause.code))
      return new DomainError(
        "Unavailable",
        `The token endpoint for ${url} could not be reached (${cause.code})`,
        {
          cause: error,
          reason: "RemoteVaultUnreachable",
        },
      );
    return new DomainError(
      "BadParameter",
      `The remote vault's identity provider refused the credential: ${described}`,
      {
        cause: error,
        reason: "RemoteVaultCredentialRefused",
      },
    );
  }
  if (isRestError(error)) {
    if (error.statusCode === 401 || error.statusCode === 403)
      return new DomainError(
        "BadParameter",
        `The remote vault ${url} refused access (${error.statusCode}): ${error.message}`,
        {
          cause: error,
          reason: "RemoteVaultAccessDenied",
        },
      );
    if (error.statusCode === undefined || (error.code !== undefined && UNREACHABLE.has(error.code)))
      return new DomainError(
        "Unavailable",
        `The remote vault ${url} could not be reached (${error.code ?? error.message})`,
        {
          cause: error,
          reason: "RemoteVaultUnreachable",
        },
      );
    return new DomainError(
      "Unavailable",
      `The remote vault ${url} answered ${error.statusCode}: ${error.message}`,
      {
        cause: error,
        reason: "RemoteVaultFailed",
      },
    );
  }
  return new DomainError(
    "Unavailable",
    `Reading the remote vault ${url} failed: ${(error as Error).message}`,
    {
      cause: error,
      reason: "RemoteVaultFailed",
    },
  );
}

/**
 * Azure Key Vault (or any server that speaks its API, another Strongroom included) through the
 * official `@azure/keyvault-certificates` client and an `@azure/identity` client secret or client
 * certificate credential. Every version of every certificate becomes one observation at
 * `akv://{host}/certificates/{name}/{version}`, with the certificate's policy (issuer, lifetime actions).
 */
export function createAzureKeyVaultConnector(): RemoteVaultConnector {
  // The SDKs load on the first sync, not with every CLI command that opens the core.
  const clientFor = async (connection: RemoteVaultConnection): Promise<CertificateClient> => {
    const [{ ClientCertificateCredential, ClientSecretCredential }, { CertificateClient }] =
      await Promise.all([import("@azure/identity"), import("@azure/keyvault-certificates")]);
    const { settings, secret } = connection;
    const tlsOptions = settings.caPem ? { ca: settings.caPem } : undefined;
    const identityOptions = {
      ...(settings.authorityHost && { authorityHost: settings.authorityHost }),
      // Instance discovery asks login.microsoftonline.com about the authority, which a self-hosted one is not.
      ...(settings.authorityHost && { disableInstanceDiscovery: true }),
      ...(tlsOptions && { tlsOptions }),
      retryOptions: { maxRetries: 1 },
    };
    const tenantId = settings.tenantId as string;
    const clientId = settings.clientId as string;
    const credential: TokenCredential = secret.clientSecret
      ? new ClientSecretCredential(tenantId, clientId, secret.clientSecret, identityOptions)
      : new ClientCertificateCredential(
          tenantId,
          clientId,
          { certificate: secret.certificate as string },
          identityOptions,
        );
    return new CertificateClient(connection.url, credential, {
      ...(tlsOptions && { tlsOptions }),
      disableChallengeResourceVerification: settings.disableChallengeResourceVerification === "true",
      // A sync runs hourly: a vault that does not answer after one retry is recorded as failed, not waited on.
      retryOptions: { maxRetries: 1, retryDelayInMs: 500, maxRetryDelayInMs: 2000 },
    });
  };

  return {
    kind: AZURE_KEY_VAULT,
    source: "akv",

    validate({ url, settings, secret }) {
      if (!isHttpsUrl(url))
        throw badParameter(`url "${url}" is not an https URL such as https://contoso.vault.azure.net`);
      for (const key of Object.keys(settings))
        if (!SETTINGS.includes(key))
          throw badParameter(`setting ${key} is not one of ${SETTINGS.join(", ")}`);
      for (const key of Object.keys(secret))
        if (!SECRETS.includes(key))
          throw badParameter(`secret field ${key} is not one of ${SECRETS.join(", ")}`);
      if (!settings.tenantId) throw badParameter("settings.tenantId is required");
      if (!settings.clientId) throw badParameter("settings.clientId is required");
      if (settings.authorityHost && !isHttpsUrl(settings.authorityHost))
        throw badParameter(`settings.authorityHost "${settings.authorityHost}" is not an https URL`);
      if (settings.caPem && !settings.caPem.includes("-----BEGIN CERTIFICATE-----"))
        throw badParameter("settings.caPem is not a PEM certificate");
      if (Boolean(secret.clientSecret) === Boolean(secret.certificate))
        throw badParameter(
          "give exactly one of secret.clientSecret and secret.certificate (PEM with its private key)",
        );
      if (secret.certificate && !/PRIVATE KEY-----/.test(secret.certificate))
        throw badParameter("secret.certificate must hold the certificate and its private key in PEM");
    },

    async *certificates(connection, signal): AsyncGenerator<RemoteCertificate> {
      const client = await clientFor(connection);
      const host = new URL(connection.url).host;
      try {
        for await (const properties of client.listPropertiesOfCertificates({ abortSignal: signal })) {
          const name = properties.name;
          if (!name) continue;
          const policy = await client
            .getCertificatePolicy(name, { abortSignal: signal })
            .catch((error: unknown) => {
              // A caller allowed to read certificates but not policies still sees the certificates.
              if (isRestError(error) && error.statusCode === 403) return undefined;
              throw error;
            });
          for await (const version of client.listPropertiesOfCertificateVersions(name, {
            abortSignal: signal,
          })) {
            if (!version.version) continue;
            const certificate = await client.getCertificateVersion(name, version.version, {
              abortSignal: signal,
            });
            // A version still pending issuance has no certificate yet.
            if (!certificate.cer?.length) continue;
            yield {
              der: certificate.cer,
              location: `akv://${host}/certificates/${encodeURIComponent(name)}/${encodeURIComponent(version.version)}`,
              detail: {
                vaultUrl: connection.url,
                name,
                version: version.version,
                enabled: version.enabled ?? null,
                createdOn: version.createdOn?.toISOString() ?? null,
                expiresOn: version.expiresOn?.toISOString() ?? null,
                issuer: policy?.issuerName ?? null,
                lifetimeActions: lifetimeActions(policy),
                tags: version.tags && Object.keys(version.tags).length ? JSON.stringify(version.tags) : null,
              },
            };
          }
        }
      } catch (error) {
        throw explain(connection.url, error);
      }
    },

    async importCertificate(connection, name, bundle, signal) {
      const client = await clientFor(connection);
      // The SDK sends a PEM's bytes as text and anything else base64-encoded, choosing by the
      // policy's content type: without it a PEM would arrive as if it were a PKCS#12 and be refused.
      const pem = bundle.contentType === "application/x-pem-file";
      const bytes = pem ? Buffer.from(bundle.value, "utf8") : Buffer.from(bundle.value, "base64");
      try {
        const imported = await client.importCertificate(name, bytes, {
          policy: { contentType: bundle.contentType } as CertificatePolicy,
          abortSignal: signal,
        });
        return imported.properties.version ?? "";
      } catch (error) {
        throw explain(connection.url, error);
      }
    },
  };
}

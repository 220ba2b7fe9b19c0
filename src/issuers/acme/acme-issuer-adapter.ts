import { Pkcs10CertificateRequest, SubjectAlternativeNameExtension } from "@peculiar/x509";
import { generateAcmeAccountKey, loadAcmeAccountKey } from "../../crypto/acme-account-key.js";
import { pemDer } from "../../crypto/pem.js";
import type { AcmeIssuerSettings, AcmeOrder, PresentedChallenge } from "../../domain/acme/model.js";
import type { AcmeStore } from "../../domain/acme/ports.js";
import { issuerPasswordContext } from "../../domain/certificates/issuer-service.js";
import type { CertificateIssuer } from "../../domain/certificates/model.js";
import type { Clock } from "../../domain/clock.js";
import type { IssuanceRequest, IssuanceResult, IssuerAdapter } from "../../domain/issuance/ports.js";
import { type IssuanceGate, openGate } from "../../domain/rules/issuance-gate.js";
import { policyFacts } from "../../domain/rules/request-facts.js";
import type { Sealer } from "../../domain/sealing/ports.js";
import type { HttpFetch } from "./acme-http.js";
import {
  AcmeProblem,
  type AcmeProtocol,
  connectAcme,
  type Identifier,
  type OrderResource,
} from "./acme-protocol.js";
import { ChallengeSolverError, createChallengeSolver } from "./challenge-solvers.js";
import { certId, fetchRenewalInfo } from "./renewal-info.js";

export interface AcmeIssuerAdapterDeps {
  store: AcmeStore;
  sealer: Sealer;
  http: HttpFetch;
  clock: Clock;
  /** An order not finished after this long is given up (the CA has long expired it). */
  orderTimeoutMs?: number;
  random?: () => number;
  /** The organisation rules, asked before an order is placed; none when absent. */
  gate?: IssuanceGate;
}

export type AcmeIssuerAdapter = IssuerAdapter & {
  /** Asks the CA again for renewal windows whose check time has come (RFC 9773); returns how many. */
  refreshRenewalInfo(): Promise<{ checked: number; failed: number }>;
  /** Cleans up the challenges of orders whose operation was cancelled or deleted; returns how many. */
  sweepAbandonedOrders(): Promise<number>;
};

const failed = (code: string, message: string) => ({ status: "failed" as const, code, message });

const accountContext = (issuer: CertificateIssuer, directoryUrl: string) =>
  `acme-account/${issuer.vaultId}/${issuer.name.toLowerCase()}/${directoryUrl}`;

// RFC 5280 §4.2.1.6; a CSR's getExtension looks extensions up by OID only.
const SUBJECT_ALT_NAME = "2.5.29.17";

/**
 * The names the CSR asks for, as ACME identifiers: the order must name exactly the CSR's subject
 * alternative names (RFC 8555 §7.4), and CAs refuse a common name that is not among them.
 */
function identifiersOf(csrDer: Buffer): { identifiers: Identifier[] } | { strayCommonName: string } {
  const csr = new Pkcs10CertificateRequest(new Uint8Array(csrDer));
  const san = csr.getExtension(SUBJECT_ALT_NAME);
  const identifiers = new Map<string, Identifier>();
  for (const name of san ? new SubjectAlternativeNameExtension(san.rawData).names.items : []) {
    if (name.type === "dns" || name.type === "ip")
      identifiers.set(name.value.toLowerCase(), { type: name.type, value: name.value.toLowerCase() });
  }
  const commonName = csr.subjectName.getField("CN")[0]?.toLowerCase();
  if (commonName && !identifiers.has(commonName)) return { strayCommonName: commonName };
  return { identifiers: [...identifiers.values()] };
}

/**
 * Issues through any RFC 8555 CA. `issue` registers the account (with EAB when the issuer has an
 * account id) and places the order, then returns "pending" at once; the pending-issuance job calls
 * `resume`, which presents and answers the challenges, finalizes with the vault key's CSR once the
 * order is ready and downloads the chain once it is valid. Problem documents fail the operation
 * with `Acme<problem type>` and the CA's detail; an unreachable CA only delays it.
 */
export function createAcmeIssuerAdapter(deps: AcmeIssuerAdapterDeps): AcmeIssuerAdapter {
  const { store, sealer, http, clock } = deps;
  const orderTimeoutMs = deps.orderTimeoutMs ?? 24 * 3_600_000;

  function sealedNewKey(context: string): Buffer {
    const pkcs8 = generateAcmeAccountKey();
    try {
      return sealer.seal(pkcs8, context);
    } finally {
      pkcs8.fill(0);
    }
  }

  async function connect(issuer: CertificateIssuer, settings: AcmeIssuerSettings): Promise<AcmeProtocol> {
    const context = accountContext(issuer, settings.directoryUrl);
    const account =
      (await store.getAccount(issuer.vaultId, issuer.name, settings.directoryUrl)) ??
      (await store.putAccountIfAbsent({
        vaultId: issuer.vaultId,
        issuerName: issuer.name,
        directoryUrl: settings.directoryUrl,
        sealedKey: sealedNewKey(context),
      }));
    const acme = await connectAcme(
      http,
      settings.directoryUrl,
      loadAcmeAccountKey(sealer.open(account.sealedKey, context)),
    );
    if (account.accountUrl) {
      acme.useAccount(account.accountUrl);
      return acme;
    }
    if (acme.directory.meta?.externalAccountRequired && (!issuer.accountId || !issuer.sealedPassword)) {
      throw new AcmeProblem({
        type: "urn:ietf:params:acme:error:externalAccountRequired",
        detail: `${settings.directoryUrl} requires external account binding: set the issuer's credentials account_id (EAB key id) and pwd (EAB HMAC key)`,
      });
    }
    const hmacKey =
      issuer.accountId && issuer.sealedPassword
        ? sealer
            .open(issuer.sealedPassword, issuerPasswordContext(issuer.vaultId, issuer.name))
            .toString("utf8")
        : undefined;
    const url = await acme.register(
      settings.contacts,
      issuer.accountId && hmacKey ? { keyId: issuer.accountId, hmacKey } : undefined,
    );
    await store.setAccountUrl(account, url);
    return acme;
  }

  async function settingsOf(request: IssuanceRequest): Promise<AcmeIssuerSettings | undefined> {
    return store.getSettings(request.issuer.vaultId, request.issuer.name);
  }

  const notConfigured = (request: IssuanceRequest) =>
    failed(
      "AcmeNotConfigured",
      `Issuer ${request.issuer.name} has provider ACME but no ACME settings: set them with ` +
        `"strongroom acme set ${request.vaultName} ${request.issuer.name} --directory <url>" ` +
        `or PUT /admin/vaults/${request.vaultName}/acme-issuers/${request.issuer.name}`,
    );

  async function cleanup(settings: AcmeIssuerSettings, order: AcmeOrder): Promise<void> {
    const solver = createChallengeSolver(settings.challenge, { store, http, clock });
    // A challenge left behind is harmless (its token is single-use): cleanup failures do not fail issuance.
    await Promise.allSettled(order.presented.map((c) => solver.cleanup(c)));
    await store.deleteOrder(order.requestId);
  }

  /** Problem documents end the operation; anything else (network, 5xx) leaves it pending to retry. */
  function outcome(
    error: unknown,
    settings: AcmeIssuerSettings,
  ): Extract<IssuanceResult, { status: "failed" }> | { status: "pending"; details: string } {
    if (error instanceof AcmeProblem) return failed(error.code, `${settings.directoryUrl}: ${error.message}`);
    if (error instanceof ChallengeSolverError) return failed("AcmeChallengeSolverFailed", error.message);
    return {
      status: "pending",
      details: `Waiting to reach the ACME CA at ${settings.directoryUrl}: ${(error as Error).message}`,
    };
  }

  /** The reason an order went invalid: its own error, or the first failed challenge's. */
  async function invalidity(acme: AcmeProtocol, order: OrderResource): Promise<AcmeProblem | undefined> {
    for (const url of order.authorizations) {
      const authorization = await acme.authorization(url);
      if (authorization.status === "valid" || authorization.status === "pending") continue;
      const challenge = authorization.challenges.find((c) => c.error);
      return new AcmeProblem(
        challenge?.error ?? {
          type: "urn:ietf:params:acme:error:unauthorized",
          detail: `authorization for ${authorization.identifier.value} is ${authorization.status}`,
        },
      );
    }
    return order.error && new AcmeProblem(order.error);
  }

  async function finish(
    acme: AcmeProtocol,
    request: IssuanceRequest,
    settings: AcmeIssuerSettings,
    order: AcmeOrder,
    certificateUrl: string,
  ): Promise<IssuanceResult> {
    const certificates = pemDer(await acme.certificateChain(certificateUrl), "CERTIFICATE");
    const leaf = certificates[0];
    if (!leaf)
      throw new AcmeProblem({
        type: "urn:ietf:params:acme:error:serverInternal",
        detail: "the CA sent no certificate",
      });
    await cleanup(settings, order);
    if (acme.directory.renewalInfo) {
      await store.putRenewalInfo({
        vaultId: request.issuer.vaultId,
        name: request.certificateName,
        version: request.version,
        issuerName: request.issuer.name,
        renewalInfoUrl: `${acme.directory.renewalInfo.replace(/\/$/, "")}/${certId(leaf)}`,
        nextCheckAt: clock.now(),
      });
    }
    return { status: "issued", certificates };
  }

  /**
   * Presents and answers the configured challenge of every pending authorization not yet answered.
   * Hooks may take minutes (DNS propagation), which is why this runs in the job, not in create.
   */
  async function answerChallenges(
    acme: AcmeProtocol,
    settings: AcmeIssuerSettings,
    order: AcmeOrder,
    current: OrderResource,
  ): Promise<IssuanceResult | undefined> {
    const solver = createChallengeSolver(settings.challenge, { store, http, clock });
    for (const url of current.authorizations) {
      const authorization = await acme.authorization(url);
      if (authorization.status !== "pending") continue;
      const challenge = authorization.challenges.find((c) => c.type === settings.challenge.type);
      if (!challenge)
        return failed(
          "AcmeChallengeUnavailable",
          `${settings.directoryUrl} offers no ${settings.challenge.type} challenge for ${authorization.identifier.value}`,
        );
      if (challenge.status !== "pending") continue;
      if (!order.presented.some((p) => p.token === challenge.token)) {
        const presented: PresentedChallenge = {
          type: settings.challenge.type,
          identifier: authorization.identifier.value,
          token: challenge.token,
          keyAuthorization: acme.keyAuthorization(challenge.token),
        };
        // Recorded before presenting, so a hook that half-succeeded is still cleaned up.
        order.presented.push(presented);
        await store.putOrder(order);
        await solver.present(presented);
      }
      await acme.respond(challenge.url);
    }
    return undefined;
  }

  return {
    provider: "acme",

    async issue(request) {
      // Before any order: a refused request must leave no order, account or authorization behind.
      await (deps.gate ?? openGate).check(
        "acme-issuer",
        { vaultId: request.vaultId },
        { ...policyFacts(request.policy, clock.now()), issuerName: request.issuer.name },
      );
      const settings = await settingsOf(request);
      if (!settings) return notConfigured(request);
      const names = identifiersOf(request.csr);
      if ("strayCommonName" in names)
        return failed(
          "AcmeCommonNameNotInSans",
          `ACME CAs issue only for the subject alternative names: add ${names.strayCommonName} to the policy's sans.dns_names`,
        );
      const { identifiers } = names;
      if (identifiers.length === 0)
        return failed(
          "AcmeNoIdentifiers",
          "The policy names no DNS name or IP address for the ACME CA to validate",
        );
      try {
        const acme = await connect(request.issuer, settings);
        const placed = await acme.newOrder(identifiers);
        await store.putOrder({
          requestId: request.requestId,
          vaultId: request.issuer.vaultId,
          issuerName: request.issuer.name,
          orderUrl: placed.url,
          presented: [],
          createdAt: clock.now(),
        });
        return {
          status: "pending",
          details: `Order placed with ${new URL(settings.directoryUrl).host} for ${identifiers.map((i) => i.value).join(", ")}`,
        };
      } catch (error) {
        // Without an order there is nothing to resume: the caller hears now.
        const result = outcome(error, settings);
        return result.status === "pending" ? failed("AcmeUnreachable", result.details) : result;
      }
    },

    async resume(request) {
      const settings = await settingsOf(request);
      if (!settings) return notConfigured(request);
      const order = await store.getOrder(request.requestId);
      if (!order)
        return failed("AcmeOrderNotFound", `No ACME order is recorded for request ${request.requestId}`);
      try {
        const acme = await connect(request.issuer, settings);
        let current = await acme.order(order.orderUrl);
        if (current.status === "pending") {
          const unavailable = await answerChallenges(acme, settings, order, current);
          if (unavailable) {
            await cleanup(settings, order);
            return unavailable;
          }
        }
        if (current.status === "ready") current = await acme.finalize(current.finalize, request.csr);
        if (current.status === "valid" && current.certificate)
          return await finish(acme, request, settings, order, current.certificate);
        const problem =
          current.status === "invalid" || current.status === "pending"
            ? await invalidity(acme, current)
            : undefined;
        if (problem || current.status === "invalid") {
          await cleanup(settings, order);
          return failed(
            problem?.code ?? "AcmeOrderInvalid",
            `${settings.directoryUrl}: ${problem?.message ?? "the order became invalid"}`,
          );
        }
        if (clock.now().getTime() - order.createdAt.getTime() > orderTimeoutMs) {
          await cleanup(settings, order);
          return failed("AcmeOrderTimedOut", `The ACME order ${order.orderUrl} did not complete in time`);
        }
        const host = new URL(settings.directoryUrl).host;
        return {
          status: "pending",
          details:
            current.status === "pending"
              ? `Waiting for ${host} to validate ${current.identifiers.map((i) => i.value).join(", ")}`
              : `${host} is issuing the certificate`,
        };
      } catch (error) {
        const result = outcome(error, settings);
        if (
          result.status === "pending" &&
          clock.now().getTime() - order.createdAt.getTime() <= orderTimeoutMs
        )
          return result;
        await cleanup(settings, order);
        return result.status === "failed" ? result : failed("AcmeUnreachable", result.details);
      }
    },

    async sweepAbandonedOrders() {
      const orders = await store.abandonedOrders(new Date(clock.now().getTime() - 60_000), 100);
      for (const order of orders) {
        const settings = await store.getSettings(order.vaultId, order.issuerName);
        if (settings) await cleanup(settings, order);
        else await store.deleteOrder(order.requestId);
      }
      return orders.length;
    },

    async refreshRenewalInfo() {
      // RFC 9773 §4.3: a replaced certificate's window is of no more interest.
      await store.pruneRenewalInfo();
      const now = clock.now();
      let checked = 0;
      let failures = 0;
      for (const info of await store.dueRenewalInfo(now, 500)) {
        try {
          const { renewAt, nextCheckAt } = await fetchRenewalInfo(
            http,
            info.renewalInfoUrl,
            now,
            deps.random,
          );
          await store.putRenewalInfo({ ...info, renewAt, nextCheckAt });
          checked++;
        } catch {
          // The policy's lifetime action still applies; ask again in an hour.
          await store.putRenewalInfo({ ...info, nextCheckAt: new Date(now.getTime() + 3_600_000) });
          failures++;
        }
      }
      return { checked, failed: failures };
    },
  };
}

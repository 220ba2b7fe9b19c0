import { sleep } from "../../domain/clock.js";
import type { ServerClient } from "../server-client.js";
import { CERTIFICATE_PLACEHOLDER, type SyncSpec } from "./config.js";
import type { StateReporter } from "./state-reporter.js";
import { type CertificateSecret, syncOnce, versionOf } from "./sync-job.js";
import type { Wakeup } from "./wakeup.js";

/** The Key Vault API version the agent reads with; Azure Key Vault answers it too. */
const API_VERSION = "7.5";
/** The longest wait between tries while the vault cannot be reached. */
const MAX_BACKOFF_MS = 30_000;

/** What the agent reads from a vault, through the Key Vault API. */
export interface VaultReader {
  /** The certificate's secret, as the CSI driver's provider reads it. */
  secret(vaultUrl: string, certificate: string): Promise<CertificateSecret>;
  /** Names of the vault's enabled certificates that carry every one of `tags`. */
  tagged(vaultUrl: string, tags: Readonly<Record<string, string>>): Promise<string[]>;
}

const base = (vaultUrl: string) => vaultUrl.replace(/\/+$/, "");

/** The Key Vault API as the agent's principal sees it: "Key Vault Certificate User" is enough. */
export function vaultReader(server: Pick<ServerClient, "call">): VaultReader {
  return {
    async secret(vaultUrl, certificate) {
      const url = `${base(vaultUrl)}/secrets/${encodeURIComponent(certificate)}?api-version=${API_VERSION}`;
      const secret = await server.call<CertificateSecret>("GET", url);
      if (!secret?.value) throw new Error(`the vault returned no value for ${certificate}`);
      return secret;
    },
    async tagged(vaultUrl, tags) {
      const names: string[] = [];
      type Page = {
        value: { id: string; tags?: Record<string, string>; attributes?: { enabled?: boolean } }[];
        nextLink?: string | null;
      };
      let next: string | null | undefined = `${base(vaultUrl)}/certificates?api-version=${API_VERSION}`;
      while (next) {
        const page: Page | undefined = await server.call<Page>("GET", next);
        for (const item of page?.value ?? []) {
          const carries = Object.entries(tags).every(([k, v]) => item.tags?.[k] === v);
          if (carries && item.attributes?.enabled !== false) names.push(item.id.split("/").at(-1) as string);
        }
        next = page?.nextLink;
      }
      return names.sort();
    },
  };
}

/** ±20 %, so that a fleet of agents started together does not ask the vault in step. */
export const jittered = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

/** Where a sync reads from, as the server shows it. */
export const sourceOf = (spec: SyncSpec) =>
  spec.certificate !== undefined
    ? `${base(spec.vaultUrl)}/certificates/${spec.certificate}`
    : `${base(spec.vaultUrl)}/certificates?tags=${Object.entries(spec.tags ?? {})
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join(",")}`;

/** A tag selector's sync for one of the certificates it selects: its own name and directory. */
function forCertificate(spec: SyncSpec, certificate: string): SyncSpec {
  return {
    ...spec,
    name: `${spec.name}/${certificate}`,
    certificate,
    tags: undefined,
    outputs: spec.outputs.map((o) => ({
      ...o,
      path: o.path.replaceAll(CERTIFICATE_PLACEHOLDER, certificate),
    })),
  };
}

export interface SyncDeps {
  vault: VaultReader;
  states: StateReporter;
  /** Cut short by the server's push when a watched certificate gets a new version. */
  wakeup: Wakeup;
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * Keeps one sync's files in step with its certificate (or, for a tag selector, with each certificate
 * it selects) until `signal` aborts, and tells the server each one's state. While the vault cannot
 * be reached the files stay as they are and the agent asks again with a doubling backoff; a version
 * whose delivery failed and was rolled back is not tried again until a newer one appears.
 */
export async function keepInSync(spec: SyncSpec, deps: SyncDeps): Promise<void> {
  const { vault, states, wakeup, signal, log } = deps;
  const source = sourceOf(spec);
  let backoffMs = 1000;
  const failedVersion = new Map<string, string>();
  const known = new Map<string, string>();
  const state = (target: SyncSpec, report: Omit<Parameters<StateReporter["set"]>[1], "source" | "paths">) =>
    states.set(target.name, { source, paths: target.outputs.map((o) => o.path), ...report });

  async function once(target: SyncSpec): Promise<boolean> {
    const certificate = target.certificate as string;
    let secret: CertificateSecret;
    try {
      secret = await vault.secret(target.vaultUrl, certificate);
    } catch (error) {
      const reason = `cannot read ${certificate} from ${target.vaultUrl}: ${(error as Error).message.split("\n")[0]}`;
      log(`sync ${target.name}: ${reason}; trying again in ${backoffMs} ms`);
      void state(target, { state: "failed", error: reason, version: known.get(target.name) });
      return false;
    }
    const version = versionOf(secret);
    if (failedVersion.get(target.name) === secret.id) return true;
    const before = known.get(target.name);
    known.set(target.name, version);
    if (before !== undefined && before !== version) void state(target, { state: "pending", version });
    const outcome = await syncOnce(target, secret).catch((error: unknown) => ({
      status: "failed" as const,
      version,
      error: (error as Error).message,
      rolledBack: false,
    }));
    if (outcome.status === "unchanged") void state(target, { state: "in-sync", version });
    if (outcome.status === "delivered") {
      log(`sync ${target.name}: delivered version ${outcome.version} (serial ${outcome.serialNumber})`);
      void state(target, {
        state: "in-sync",
        version,
        delivered: { version, at: new Date(), certificates: outcome.certificates },
      });
    }
    if (outcome.status === "failed") {
      failedVersion.set(target.name, secret.id);
      log(
        `sync ${target.name}: delivery of version ${outcome.version} failed: ${outcome.error}${outcome.rolledBack ? "; the previous files are back" : ""}`,
      );
      void state(target, { state: "failed", version, error: outcome.error });
    }
    return true;
  }

  while (!signal.aborted) {
    let reached = true;
    try {
      const targets =
        spec.certificate !== undefined
          ? [spec]
          : (await vault.tagged(spec.vaultUrl, spec.tags ?? {})).map((name) => forCertificate(spec, name));
      for (const target of targets) reached = (await once(target)) && reached;
    } catch (error) {
      const reason = `cannot list the certificates of ${spec.vaultUrl}: ${(error as Error).message.split("\n")[0]}`;
      log(`sync ${spec.name}: ${reason}; trying again in ${backoffMs} ms`);
      void states.set(spec.name, { source, paths: [], state: "failed", error: reason });
      reached = false;
    }
    void states.flush();
    if (reached) {
      backoffMs = 1000;
      await wakeup.sleep(jittered(spec.pollMs), signal);
    } else {
      await sleep(jittered(backoffMs), signal);
      backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
    }
  }
}

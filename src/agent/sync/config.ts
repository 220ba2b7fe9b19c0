import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { badParameter } from "../../domain/errors.js";

/**
 * What one output file holds. `combined` is key then full chain, as HAProxy reads it; `pkcs12` and
 * `jks` are keystores (key, certificate and chain under one alias) locked with a password from a file.
 */
export type OutputKind = "cert" | "chain" | "fullchain" | "key" | "combined" | "pkcs12" | "jks";
const OUTPUT_KINDS: readonly OutputKind[] = [
  "cert",
  "chain",
  "fullchain",
  "key",
  "combined",
  "pkcs12",
  "jks",
];
/** Keystores: binary, and written only when the certificate changed (see files.ts). */
export const KEYSTORE_KINDS: ReadonlySet<OutputKind> = new Set(["pkcs12", "jks"]);
/** In a tag selector's output paths, the name of each certificate it selects. */
export const CERTIFICATE_PLACEHOLDER = "{certificate}";

export interface SyncOutput {
  kind: OutputKind;
  path: string;
  /** File mode; keys default to 0600, certificates to 0644. */
  mode: number;
  /** Numeric owner and group; absent keeps the agent's own. */
  uid?: number | undefined;
  gid?: number | undefined;
  /** For keystores: the file whose first line is the keystore's password. */
  passwordFile?: string | undefined;
  /** For keystores: the key entry's alias. */
  alias?: string | undefined;
}

export interface HealthCheck {
  host: string;
  port: number;
  serverName?: string | undefined;
  /** How long the endpoint has to present the new certificate after the reload. */
  timeoutMs: number;
}

export interface SyncSpec {
  name: string;
  /** `https://…` of the vault, as a Key Vault client addresses it. */
  vaultUrl: string;
  /** One certificate by name, or (undefined) every certificate `tags` select. */
  certificate?: string | undefined;
  /**
   * A tag selector: every certificate of the vault carrying all these tags, each delivered to the
   * outputs with `{certificate}` in their paths replaced by its name.
   */
  tags?: Readonly<Record<string, string>> | undefined;
  outputs: SyncOutput[];
  /** argv of the reload command, run without a shell. */
  reload?: string[] | undefined;
  healthCheck?: HealthCheck | undefined;
  pollMs: number;
}

export interface AgentConfig {
  syncs: SyncSpec[];
}

/**
 * Reload commands of the servers the agent knows; a sync names one as `recipe` instead of writing
 * its own `reload`. HAProxy reads one combined PEM, so its recipe is what decides the output kind.
 */
export const RECIPES: Record<string, { reload: (unit?: string) => string[]; outputs: OutputKind[] }> = {
  nginx: { reload: () => ["nginx", "-s", "reload"], outputs: ["fullchain", "key"] },
  haproxy: { reload: () => ["systemctl", "reload", "haproxy"], outputs: ["combined"] },
  apache: { reload: () => ["apachectl", "graceful"], outputs: ["cert", "chain", "key"] },
  systemd: {
    reload: (unit) => ["systemctl", "reload-or-restart", unit ?? ""],
    outputs: ["cert", "chain", "fullchain", "key"],
  },
};

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

function text(o: Raw, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== "string" || v === "") throw badParameter(`${where}: ${key} must be a non-empty string`);
  return v;
}

function optionalId(o: Raw, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || (v as number) < 0) throw badParameter(`${where}: ${key} must be a numeric id`);
  return v as number;
}

function parseOutput(raw: unknown, where: string): SyncOutput {
  if (!isObject(raw)) throw badParameter(`${where} must be an object`);
  const kind = text(raw, "kind", where) as OutputKind;
  if (!OUTPUT_KINDS.includes(kind))
    throw badParameter(`${where}: kind must be one of ${OUTPUT_KINDS.join(", ")}`);
  const path = text(raw, "path", where);
  if (!isAbsolute(path)) throw badParameter(`${where}: path ${path} must be absolute`);
  const keystore = KEYSTORE_KINDS.has(kind);
  const secret = kind === "key" || kind === "combined" || keystore;
  const modeText = raw.mode === undefined ? (secret ? "0600" : "0644") : raw.mode;
  if (typeof modeText !== "string" || !/^0?[0-7]{3}$/.test(modeText))
    throw badParameter(`${where}: mode must be an octal string such as "0640"`);
  const passwordFile = raw.passwordFile === undefined ? undefined : text(raw, "passwordFile", where);
  if (keystore && passwordFile === undefined)
    throw badParameter(`${where}: a ${kind} output needs passwordFile, the file holding its password`);
  if (passwordFile !== undefined && !isAbsolute(passwordFile))
    throw badParameter(`${where}: passwordFile ${passwordFile} must be absolute`);
  return {
    kind,
    path,
    mode: Number.parseInt(modeText, 8),
    uid: optionalId(raw, "uid", where),
    gid: optionalId(raw, "gid", where),
    ...(keystore && {
      passwordFile,
      alias: raw.alias === undefined ? "certificate" : text(raw, "alias", where),
    }),
  };
}

function parseHealthCheck(raw: unknown, where: string): HealthCheck | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) throw badParameter(`${where} must be an object`);
  const port = raw.port;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    throw badParameter(`${where}: port must be 1-65535`);
  const timeoutS = raw.timeoutSeconds ?? 10;
  if (typeof timeoutS !== "number" || timeoutS <= 0)
    throw badParameter(`${where}: timeoutSeconds must be positive`);
  return {
    host: text(raw, "host", where),
    port: port as number,
    serverName: raw.serverName === undefined ? undefined : text(raw, "serverName", where),
    timeoutMs: timeoutS * 1000,
  };
}

function parseTags(raw: unknown, where: string): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (
    !isObject(raw) ||
    Object.keys(raw).length === 0 ||
    !Object.values(raw).every((v) => typeof v === "string")
  )
    throw badParameter(`${where}: tags must be an object of at least one tag name and its value`);
  return raw as Record<string, string>;
}

function parseSync(raw: unknown, index: number): SyncSpec {
  const where = `syncs[${index}]`;
  if (!isObject(raw)) throw badParameter(`${where} must be an object`);
  const vaultUrl = text(raw, "vaultUrl", where);
  if (!vaultUrl.startsWith("https://")) throw badParameter(`${where}: vaultUrl must be https://`);
  const recipe = raw.recipe === undefined ? undefined : RECIPES[text(raw, "recipe", where)];
  if (raw.recipe !== undefined && !recipe)
    throw badParameter(`${where}: recipe must be one of ${Object.keys(RECIPES).join(", ")}`);
  if (!Array.isArray(raw.outputs) || raw.outputs.length === 0)
    throw badParameter(`${where}: outputs must list at least one file`);
  const outputs = raw.outputs.map((o, i) => parseOutput(o, `${where}.outputs[${i}]`));
  const tags = parseTags(raw.tags, where);
  if ((raw.certificate === undefined) === (tags === undefined))
    throw badParameter(`${where}: give either certificate (one by name) or tags (a tag selector)`);
  if (tags) {
    const fixed = outputs.find((o) => !o.path.includes(CERTIFICATE_PLACEHOLDER));
    if (fixed)
      throw badParameter(
        `${where}: ${fixed.path} must contain ${CERTIFICATE_PLACEHOLDER}: a tag selector writes each certificate's own files`,
      );
    if (raw.name === undefined) throw badParameter(`${where}: a tag selector needs a name`);
  }
  let reload: string[] | undefined;
  if (raw.reload !== undefined) {
    if (
      !Array.isArray(raw.reload) ||
      raw.reload.length === 0 ||
      !raw.reload.every((a) => typeof a === "string")
    )
      throw badParameter(`${where}: reload must be a command as a list of arguments`);
    reload = raw.reload as string[];
  } else if (recipe) {
    reload = recipe.reload(typeof raw.unit === "string" ? raw.unit : undefined);
    if (reload.includes("")) throw badParameter(`${where}: the systemd recipe needs a unit`);
  }
  const pollS = raw.pollSeconds ?? 30;
  if (typeof pollS !== "number" || pollS < 1) throw badParameter(`${where}: pollSeconds must be at least 1`);
  const certificate = tags ? undefined : text(raw, "certificate", where);
  const name = raw.name === undefined ? certificate : text(raw, "name", where);
  if (!name || !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/.test(name))
    throw badParameter(`${where}: name must be 1-100 letters, digits, dots, hyphens, underscores or @`);
  return {
    name,
    vaultUrl,
    certificate,
    tags,
    outputs,
    reload,
    healthCheck: parseHealthCheck(raw.healthCheck, `${where}.healthCheck`),
    pollMs: pollS * 1000,
  };
}

/** Reads and checks the agent's configuration file (JSON). */
export function readAgentConfig(file: string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw badParameter(`${file} is not a readable JSON configuration: ${(error as Error).message}`);
  }
  if (!isObject(raw)) throw badParameter(`${file} must hold a JSON object`);
  const syncs = raw.syncs ?? [];
  if (!Array.isArray(syncs)) throw badParameter(`${file}: syncs must be a list`);
  const parsed = syncs.map(parseSync);
  const paths = parsed.flatMap((s) => s.outputs.map((o) => o.path));
  const twice = paths.find((p, i) => paths.indexOf(p) !== i);
  if (twice) throw badParameter(`${file}: ${twice} is written by more than one output`);
  return { syncs: parsed };
}

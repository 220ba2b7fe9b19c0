import type { Dirent, Stats } from "node:fs";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import {
  type CertificateFileFormat,
  certificateKeyFingerprint,
  type DecodedCertificateFile,
  readCertificateFile,
} from "../crypto/certificate-file-reader.js";
import { fileLocation, type LocationDetail, type Observation } from "../domain/inventory/observation.js";

export interface FileScanOptions {
  /** Names this host in locations: `file://{agent}/etc/nginx/cert.pem`. */
  agent: string;
  /** Directories (or single files) to walk. */
  roots: readonly string[];
  /**
   * Paths to leave out: a pattern with a `/` is matched against the whole absolute path (a directory
   * excludes everything beneath it), one without against each entry's name; `*`, `?` and `**` glob.
   */
  exclude?: readonly string[];
  /** How many directory levels below each root are entered; 0 reads only the root's own files. */
  maxDepth?: number;
  /** Tried in order on PKCS#12 files, encrypted private keys and keystore digests. */
  passwords?: readonly string[];
  /** Files larger than this are not read. */
  maxFileBytes?: number;
  seenAt: Date;
}

/** Who owns a file and who can read it. */
export interface FileOwnership {
  path: string;
  uid: number;
  gid: number;
  /** User and group names from /etc/passwd and /etc/group, or the number when unnamed. */
  owner: string;
  group: string;
  /** Permission bits in octal, e.g. "0640". */
  mode: string;
  worldReadable: boolean;
  groupReadable: boolean;
}

export interface MatchingKey extends FileOwnership {
  /** Whether the key is in the certificate's own file (a PEM with key and certificate, a PKCS#12, a keystore entry). */
  inSameFile: boolean;
}

/** Facts about one file holding certificates or private keys. */
export interface CertificateFileFacts extends FileOwnership {
  location: string;
  /** `unknown` only for a damaged file. */
  format: CertificateFileFormat | "unknown";
  /** `encrypted-unread`: a PKCS#12 none of the passwords opens; `damaged`: recognised but not parseable. */
  status: "read" | "encrypted-unread" | "damaged";
  reason?: string | undefined;
  certificates: number;
  /** Private keys in the file that no configured password opens. */
  lockedKeys: number;
  integrity?: "verified" | "unverified" | "partial" | undefined;
  /** For each certificate that has one, its private key here or beside it in the same directory. */
  matchingKeys: MatchingKey[];
}

export interface SkippedPath {
  path: string;
  reason: "excluded" | "too-deep" | "visited" | "too-large" | "unreadable";
  detail?: string | undefined;
}

export type FileScanEvent =
  | { kind: "file"; facts: CertificateFileFacts; observations: Observation[] }
  | { kind: "skipped"; skipped: SkippedPath };

export interface FileScanResult {
  observations: Observation[];
  files: CertificateFileFacts[];
  skipped: SkippedPath[];
}

const DEFAULT_MAX_DEPTH = 16;
const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;
/** A PEM header further into a file than this is not looked for: such files are documents, not certificates. */
const SNIFF_BYTES = 64 * 1024;
/**
 * Decoded files of one directory kept between the pass that finds its keys and the pass that reports
 * its certificates; beyond this the second pass reads the file again, so a directory of a hundred
 * thousand certificates costs time, not memory.
 */
const DIRECTORY_CACHE_BYTES = 2 * 1024 * 1024;
const JKS_MAGICS = [0xfeedfeed, 0xcececece];

function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      source += ".*";
      i++;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

function exclusionTest(patterns: readonly string[]): (path: string) => boolean {
  const byPath = patterns.filter((p) => p.includes("/")).map((p) => globToRegExp(p.replace(/\/+$/, "")));
  const byName = patterns.filter((p) => !p.includes("/")).map(globToRegExp);
  return (path) => {
    if (byName.some((r) => r.test(basename(path)))) return true;
    // A directory pattern covers what lies beneath it.
    for (let p = path; p !== dirname(p); p = dirname(p)) if (byPath.some((r) => r.test(p))) return true;
    return false;
  };
}

async function idNames(file: string): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  const text = await readFile(file, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name && id && /^\d+$/.test(id)) names.set(Number(id), name);
  }
  return names;
}

/** Reads a file only if its first bytes could open a certificate or key format. */
async function readCandidate(path: string, size: number): Promise<Buffer | undefined> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(Math.min(size, SNIFF_BYTES));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const sniff = head.subarray(0, bytesRead);
    const der = sniff[0] === 0x30;
    const keystore = sniff.length >= 4 && JKS_MAGICS.includes(sniff.readUInt32BE(0));
    if (!der && !keystore && !sniff.includes("-----BEGIN ")) return undefined;
    if (bytesRead === size) return sniff;
    return await readFile(path);
  } finally {
    await handle.close();
  }
}

/**
 * Walks `roots` and yields each file that holds certificates or private keys, with its facts and one
 * observation per certificate, and each path it passed by and why. Symbolic links are followed, but a
 * directory already entered (by its device and inode) is not entered again, so link loops end.
 * Memory stays bounded by the deepest path's pending directories and one directory's decoded files.
 */
export async function* walkCertificateFiles(options: FileScanOptions): AsyncGenerator<FileScanEvent> {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const passwords = options.passwords ?? [];
  const excluded = exclusionTest(options.exclude ?? []);
  const [users, groups] = await Promise.all([idNames("/etc/passwd"), idNames("/etc/group")]);
  const ownership = (path: string, s: Stats): FileOwnership => ({
    path,
    uid: s.uid,
    gid: s.gid,
    owner: users.get(s.uid) ?? String(s.uid),
    group: groups.get(s.gid) ?? String(s.gid),
    mode: `0${(s.mode & 0o777).toString(8).padStart(3, "0")}`,
    worldReadable: (s.mode & 0o004) !== 0,
    groupReadable: (s.mode & 0o040) !== 0,
  });
  const visited = new Set<string>();
  const skip = (path: string, reason: SkippedPath["reason"], detail?: string): FileScanEvent => ({
    kind: "skipped",
    skipped: { path, reason, ...(detail !== undefined && { detail }) },
  });

  type Decoded = { path: string; stats: Stats; decoded: DecodedCertificateFile | Error; cached: boolean };

  const decode = async (path: string, stats: Stats): Promise<DecodedCertificateFile | Error | undefined> => {
    const bytes = await readCandidate(path, stats.size);
    if (!bytes) return undefined;
    try {
      return readCertificateFile(bytes, passwords);
    } catch (error) {
      return error as Error;
    }
  };

  /** One directory's files: keys found first, so each certificate can be paired with a key beside it. */
  async function* scanDirectoryFiles(files: { path: string; stats: Stats }[]): AsyncGenerator<FileScanEvent> {
    const keys = new Map<string, FileOwnership & { file: string }>();
    const found: Decoded[] = [];
    let cachedBytes = 0;
    for (const { path, stats } of files) {
      if (stats.size > maxFileBytes) {
        yield skip(path, "too-large", `${stats.size} bytes`);
        continue;
      }
      let decoded: DecodedCertificateFile | Error | undefined;
      try {
        decoded = await decode(path, stats);
      } catch (error) {
        yield skip(path, "unreadable", (error as NodeJS.ErrnoException).code ?? (error as Error).message);
        continue;
      }
      if (!decoded) continue;
      if (!(decoded instanceof Error))
        for (const fingerprint of decoded.privateKeys)
          keys.set(fingerprint, { ...ownership(path, stats), file: path });
      const cached = cachedBytes + stats.size <= DIRECTORY_CACHE_BYTES;
      if (cached) cachedBytes += stats.size;
      found.push({ path, stats, decoded: cached ? decoded : new Error("not cached"), cached });
    }
    for (const entry of found) {
      const decoded = entry.cached
        ? entry.decoded
        : await decode(entry.path, entry.stats).catch((e: Error) => e);
      if (decoded) yield report(entry.path, entry.stats, decoded, keys);
    }
  }

  function report(
    path: string,
    stats: Stats,
    decoded: DecodedCertificateFile | Error,
    keys: Map<string, FileOwnership & { file: string }>,
  ): FileScanEvent {
    const owned = ownership(path, stats);
    const location = fileLocation(options.agent, path);
    if (decoded instanceof Error) {
      const facts: CertificateFileFacts = {
        ...owned,
        location,
        format: "unknown",
        status: "damaged",
        reason: decoded.message,
        certificates: 0,
        lockedKeys: 0,
        matchingKeys: [],
      };
      return { kind: "file", facts, observations: [] };
    }
    const observations: Observation[] = [];
    const matchingKeys: MatchingKey[] = [];
    const fileDetail: LocationDetail = {
      path,
      format: decoded.format,
      owner: owned.owner,
      group: owned.group,
      mode: owned.mode,
      worldReadable: owned.worldReadable,
    };
    const several = decoded.groups.length > 1 || (decoded.groups[0]?.certificates.length ?? 0) > 1;
    let ordinal = 0;
    for (const group of decoded.groups) {
      group.certificates.forEach((der, index) => {
        ordinal++;
        const fragment =
          group.alias !== undefined
            ? `${encodeURIComponent(group.alias)}${index > 0 ? `/${index + 1}` : ""}`
            : several && ordinal > 1
              ? String(ordinal)
              : undefined;
        const beside = keys.get(certificateKeyFingerprint(der));
        const key: MatchingKey | undefined =
          index === 0 && group.keyInEntry
            ? { ...owned, inSameFile: true }
            : beside && { ...beside, inSameFile: beside.file === path };
        if (key) matchingKeys.push(key);
        observations.push({
          der,
          chain: group.certificates.filter((_, i) => i !== index),
          location: fileLocation(options.agent, path, fragment),
          source: "file",
          seenAt: options.seenAt,
          detail: {
            ...fileDetail,
            ...(group.alias !== undefined && { alias: group.alias }),
            privateKey: key ? key.path : null,
            privateKeyOwner: key ? key.owner : null,
            privateKeyMode: key ? key.mode : null,
            privateKeyWorldReadable: key ? key.worldReadable : null,
          },
        });
      });
    }
    const facts: CertificateFileFacts = {
      ...owned,
      location,
      format: decoded.format,
      status: decoded.encrypted ? "encrypted-unread" : "read",
      certificates: observations.length,
      lockedKeys: decoded.lockedKeys,
      integrity: decoded.integrity,
      matchingKeys,
    };
    return { kind: "file", facts, observations };
  }

  const pending: { path: string; depth: number }[] = options.roots.map((r) => ({
    path: resolve(r),
    depth: 0,
  }));
  while (pending.length > 0) {
    const { path, depth } = pending.pop() as { path: string; depth: number };
    if (excluded(path)) {
      yield skip(path, "excluded");
      continue;
    }
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch (error) {
      yield skip(path, "unreadable", (error as NodeJS.ErrnoException).code);
      continue;
    }
    if (stats.isFile()) {
      yield* scanDirectoryFiles([{ path, stats }]);
      continue;
    }
    if (!stats.isDirectory()) continue;
    const identity = `${stats.dev}:${stats.ino}`;
    if (visited.has(identity)) {
      yield skip(
        path,
        "visited",
        "a directory already entered through another path (a link loop or a second link)",
      );
      continue;
    }
    visited.add(identity);
    let entries: Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      yield skip(path, "unreadable", (error as NodeJS.ErrnoException).code);
      continue;
    }
    const files: { path: string; stats: Stats }[] = [];
    const directories: string[] = [];
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(path, entry.name);
      if (!entry.isFile() && !entry.isDirectory() && !entry.isSymbolicLink()) continue;
      if (excluded(full)) {
        yield skip(full, "excluded");
        continue;
      }
      let target: Stats;
      try {
        target = await stat(full);
      } catch (error) {
        yield skip(full, "unreadable", (error as NodeJS.ErrnoException).code);
        continue;
      }
      if (target.isFile()) files.push({ path: full, stats: target });
      else if (target.isDirectory()) directories.push(full);
    }
    yield* scanDirectoryFiles(files);
    // Popped last-in first-out: reversed, so directories are entered in name order.
    for (const directory of directories.reverse()) {
      if (depth + 1 > maxDepth) yield skip(directory, "too-deep", `below maxDepth ${maxDepth}`);
      else pending.push({ path: directory, depth: depth + 1 });
    }
  }
}

/** The whole of a walk at once: every observation, every certificate or key file, every path passed by. */
export async function scanFiles(options: FileScanOptions): Promise<FileScanResult> {
  const result: FileScanResult = { observations: [], files: [], skipped: [] };
  for await (const event of walkCertificateFiles(options)) {
    if (event.kind === "skipped") result.skipped.push(event.skipped);
    else {
      result.files.push(event.facts);
      result.observations.push(...event.observations);
    }
  }
  return result;
}

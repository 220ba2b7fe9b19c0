import type { LocationDetail } from "../inventory/observation.js";

export type StartTlsProtocol = "smtp" | "imap" | "pop3" | "ldap";

/** One target as given: an address, CIDR block, range or host name, with its own ports and names. */
export interface ScanTarget {
  address: string;
  ports?: number[];
  sni?: string[];
}

/** A network scan: what to connect to and how gently. */
export interface TlsScanSpec {
  kind: "tls";
  targets: ScanTarget[];
  /** Ports for targets that name none; 443 when empty. */
  ports: number[];
  exclude: string[];
  /** Server names tried on every target, after a first handshake without SNI. */
  sni: string[];
  /** Also try the DNS names earlier scans saw in certificates at the same address. */
  knownNames: boolean;
  /** STARTTLS protocol per port, besides the well-known ones (25, 587, 110, 143, 389). */
  starttls: Record<number, StartTlsProtocol>;
  concurrency: number;
  timeoutMs: number;
  /** New connections per second, so a scan cannot flood a network. */
  ratePerSecond: number;
}

/** A file scan an agent runs on its own host; passwords stay in the agent's own configuration. */
export interface FileScanSpec {
  kind: "files";
  roots: string[];
  exclude: string[];
  maxDepth?: number | undefined;
}

export type ScanSpec = TlsScanSpec | FileScanSpec;

export type RunStatus = "queued" | "running" | "completed" | "cancelled" | "failed";

/**
 * How connecting to one endpoint ended, or reading one file: `unread` is a file scan's encrypted
 * store that no configured password opens.
 */
export type EndpointOutcome = "ok" | "refused" | "timeout" | "handshake" | "error" | "unread";

/** What one endpoint (or, for file scans, one certificate file location) gave. */
export interface EndpointResult {
  location: string;
  outcome: EndpointOutcome;
  /** Why it failed, in the words of the TLS stack or the protocol. */
  error?: string | undefined;
  /** As presented: the leaf first, then the rest in the order sent. Empty unless `ok`. */
  chain: Uint8Array[];
  /** SHA-256 of the leaf's DER, lower-case hex. */
  fingerprint?: string | undefined;
  tlsVersion?: string | undefined;
  cipher?: string | undefined;
  /** Further facts for the inventory location: a file's owner and mode, the STARTTLS protocol. */
  detail?: LocationDetail | undefined;
  seenAt: Date;
}

export interface DiffEntry {
  location: string;
  fingerprint?: string | undefined;
  previous?: string | undefined;
}

/** What changed since the previous completed run of the same name. */
export interface RunDiff {
  previousRunId?: string | undefined;
  new: DiffEntry[];
  changed: DiffEntry[];
  gone: DiffEntry[];
}

export interface ScanRun {
  id: string;
  /** Runs of one name are compared with each other; a schedule's runs carry its name. */
  name: string;
  spec: ScanSpec;
  /** The agent that runs it; the server itself when undefined. */
  agentId?: string | undefined;
  scheduleId?: string | undefined;
  status: RunStatus;
  total: number;
  done: number;
  failed: number;
  createdAt: Date;
  startedAt?: Date | undefined;
  finishedAt?: Date | undefined;
  error?: string | undefined;
  diff?: RunDiff | undefined;
}

export interface ScanSchedule {
  id: string;
  name: string;
  spec: ScanSpec;
  agentId?: string | undefined;
  intervalMs: number;
  nextRunAt: Date;
  createdAt: Date;
}

/** A registered agent: its own principal, and what it last said about itself. */
export interface Agent {
  id: string;
  name: string;
  principalId: string;
  hostname?: string | undefined;
  version?: string | undefined;
  createdAt: Date;
  registeredAt?: Date | undefined;
  lastSeenAt?: Date | undefined;
}

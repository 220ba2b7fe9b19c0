import { hash } from "node:crypto";
import { connect as connectTcp, type Socket } from "node:net";
import {
  connect as connectTls,
  createSecureContext,
  type DetailedPeerCertificate,
  type SecureContext,
  type TLSSocket,
} from "node:tls";
import type { EndpointOutcome, EndpointResult } from "../domain/discovery/model.js";
import type { Endpoint } from "../domain/discovery/targets.js";
import { createDerMap } from "../domain/inventory/der-map.js";
import { grab, grabChain } from "./certificate-grab.js";
import { negotiateStartTls, StartTlsError } from "./starttls.js";

export interface TlsScanOptions {
  concurrency: number;
  /** The whole of one endpoint: connect, STARTTLS and handshake, so a slow server cannot hold a slot. */
  timeoutMs: number;
  /** New connections per second across the scan. */
  ratePerSecond: number;
  signal?: AbortSignal | undefined;
  now?: () => Date;
}

class Timeout extends Error {}

/**
 * The only certificate in the scanner's trust store, whose key was thrown away. Node completes a
 * peer's chain from the trust store when reporting it; with the default store a chain would gain a
 * public root the server never sent, and with an empty one (`ca: []`) Node 20 crashes the process
 * looking up the issuer of a chain that does not end in a self-signed certificate.
 */
const NOTHING_TRUSTED = `-----BEGIN CERTIFICATE-----
MIIBeTCCASugAwIBAgIUMm0PUUtr5n/+jIbiWByCgejxhyMwBQYDK2VwMDExLzAt
BgNVBAMMJlN0cm9uZ3Jvb20gZGlzY292ZXJ5IGVtcHR5IHRydXN0IHN0b3JlMCAX
DTI2MTIwNTEzNTEwNVoYDzIxMjYxMTExMTM1MTA1WjAxMS8wLQYDVQQDDCZTdHJv
bmdyb29tIGRpc2NvdmVyeSBlbXB0eSB0cnVzdCBzdG9yZTAqMAUGAytlcAMhAPNI
SyFvOR+GsbBRsrt3sccvSfA3+SMTGVKNnCT8uEaho1MwUTAdBgNVHQ4EFgQUTxyw
gIpIVDcdRgz15LFYXY80bc0wHwYDVR0jBBgwFoAUTxywgIpIVDcdRgz15LFYXY80
bc0wDwYDVR0TAQH/BAUwAwEB/zAFBgMrZXADQQDGQ2S10EBJYwBsX3acKD5u2DwR
x8zltGHdxdPzIerKDi9vRfECM2fhrs3J4nPSZOV8WJW3f5YCdcsS8gVMA9cH
-----END CERTIFICATE-----
`;

const REFUSED = new Set(["ECONNREFUSED"]);
const UNREACHABLE = new Set(["EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN"]);

function outcomeOf(error: unknown): { outcome: EndpointOutcome; error: string } {
  if (error instanceof Timeout) return { outcome: "timeout", error: error.message };
  if (error instanceof StartTlsError) return { outcome: "handshake", error: error.message };
  const e = error as NodeJS.ErrnoException;
  if (e.code && REFUSED.has(e.code)) return { outcome: "refused", error: e.message };
  if (e.code && UNREACHABLE.has(e.code)) return { outcome: "error", error: e.message };
  // Resets, alerts, garbage and oversized messages during the handshake.
  return { outcome: "handshake", error: e.message ?? String(error) };
}

/** The chain as the peer sent it, leaf first, each issuer after the certificate it issued. */
function presentedChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  const seen = new Set<DetailedPeerCertificate>();
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert)) {
    seen.add(cert);
    chain.push(new Uint8Array(cert.raw));
    cert = cert.issuerCertificate;
  }
  return chain;
}

function tcp(endpoint: Endpoint, opened: Socket[]): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host: endpoint.host, port: endpoint.port });
    opened.push(socket);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

let context: SecureContext | undefined;

/**
 * One context for every connection: options such as `ca` and `ciphers` given to each connect make
 * Node build a new context per handshake, which cost more than the handshake itself (200 vs 1,000+
 * endpoints a second over the bench fleet).
 */
function scannerContext(): SecureContext {
  context ??= createSecureContext({
    // Discovery records what is served, valid or not: expired, self-signed, SHA-1 and RSA-1024
    // certificates and old protocol versions are what it exists to find.
    minVersion: "TLSv1",
    ciphers: "ALL:@SECLEVEL=0",
    ca: [NOTHING_TRUSTED],
  });
  return context;
}

function handshake(endpoint: Endpoint, socket: Socket | undefined, opened: Socket[]): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = connectTls({
      ...(socket ? { socket } : { host: endpoint.host, port: endpoint.port }),
      ...(endpoint.sni && { servername: endpoint.sni }),
      rejectUnauthorized: false,
      secureContext: scannerContext(),
    });
    opened.push(tls);
    tls.once("secureConnect", () => {
      tls.off("error", reject);
      resolve(tls);
    });
    tls.once("error", reject);
  });
}

/**
 * The deadlines of a scan's probes. Every probe of a scan has the same timeout, so start order is
 * deadline order: a queue with one timer, armed for the earliest unsettled deadline, replaces a
 * timer per connection. Settled probes leave the queue when they reach its head.
 */
function deadlineQueue(timeoutMs: number) {
  interface Entry {
    at: number;
    settled: boolean;
    expire: () => void;
  }
  let queue: Entry[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    while (head < queue.length && (queue[head] as Entry).settled) head++;
    // Drop what the head has passed once it is most of the array, so a long scan's queue stays short.
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    const next = queue[head];
    if (next && !timer) timer = setTimeout(fire, Math.max(0, next.at - performance.now()));
  };
  const fire = () => {
    timer = undefined;
    const now = performance.now();
    const due: Entry[] = [];
    for (let next = queue[head]; next && (next.settled || next.at <= now); next = queue[++head]) {
      if (!next.settled) due.push(next);
    }
    // Expired only after the walk: an expiry starts the next probe, whose add() moves the head.
    for (const entry of due) entry.expire();
    arm();
  };
  return {
    /** Calls `expire` once `timeoutMs` from now unless the returned entry is settled first. */
    add(expire: () => void): Entry {
      const entry = { at: performance.now() + timeoutMs, settled: false, expire };
      queue.push(entry);
      arm();
      return entry;
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

type Deadlines = ReturnType<typeof deadlineQueue>;

function found(
  endpoint: Endpoint,
  {
    chain,
    tlsVersion,
    cipher,
  }: { chain: Uint8Array[]; tlsVersion?: string | undefined; cipher?: string | undefined },
  seenAt: Date,
): EndpointResult {
  // Built field by field: spreading an optional (`...(x && { x })`) cost more than the rest of
  // the result together, once per endpoint.
  const detail: Record<string, string | number> = { address: endpoint.host, port: endpoint.port };
  if (endpoint.sni) detail.sni = endpoint.sni;
  if (endpoint.starttls) detail.starttls = endpoint.starttls;
  const result: EndpointResult = {
    location: endpoint.location,
    outcome: chain.length > 0 ? "ok" : "handshake",
    chain,
    fingerprint: chain[0] && hash("sha256", chain[0], "hex"),
    tlsVersion,
    cipher,
    detail,
    seenAt,
  };
  if (chain.length === 0) result.error = "the server presented no certificate";
  return result;
}

const isNetworkError = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && (REFUSED.has(code) || UNREACHABLE.has(code));
};

/**
 * Probes one endpoint and calls `done` once with what it presents, or why it presented nothing,
 * by its deadline in `deadlines` at the latest.
 */
function probeWith(
  endpoint: Endpoint,
  deadlines: Deadlines,
  now: () => Date,
  timeoutMs: number,
  done: (result: EndpointResult) => void,
): void {
  const sockets: Socket[] = [];
  let abandonGrab: (() => void) | undefined;
  const finish = (result: EndpointResult) => {
    if (deadline.settled) return;
    deadline.settled = true;
    abandonGrab?.();
    // The TLS socket before the plain one it wraps: the other way round crashes Node 20.
    for (const socket of sockets.reverse()) socket.destroy();
    done(result);
  };
  const failed = (error: unknown) =>
    finish({ location: endpoint.location, ...outcomeOf(error), chain: [], seenAt: now() });
  const deadline = deadlines.add(() =>
    finish({
      location: endpoint.location,
      ...outcomeOf(new Timeout(`no TLS handshake within ${timeoutMs} ms`)),
      chain: [],
      seenAt: now(),
    }),
  );

  const plain = async () => {
    const socket = await tcp(endpoint, sockets);
    if (endpoint.starttls) await negotiateStartTls(socket, endpoint.starttls);
    return socket;
  };
  const fullHandshake = async () => {
    const tls = await handshake(endpoint, endpoint.starttls ? await plain() : undefined, sockets);
    return {
      chain: presentedChain(tls),
      tlsVersion: tls.getProtocol() ?? undefined,
      cipher: tls.getCipher()?.name,
    };
  };
  // Whatever the grab cannot read, a real handshake on a new connection reads or reports, so
  // hostile and TLS 1.3-only servers end as they did before the grab.
  const slowPath = (grabFirst: boolean) => {
    const attempt = async () => {
      if (!grabFirst) return fullHandshake();
      let socket: Socket;
      try {
        socket = await plain();
      } catch (error) {
        if (error instanceof StartTlsError || isNetworkError(error)) throw error;
        return fullHandshake();
      }
      try {
        return await grab(socket, endpoint.sni);
      } catch {
        socket.destroy();
        return fullHandshake();
      }
    };
    attempt().then((presented) => finish(found(endpoint, presented, now())), failed);
  };

  // The certificate grab first (see certificate-grab.ts). STARTTLS endpoints need their plaintext
  // exchange on the connection first, and take the promise-based path.
  if (endpoint.starttls) {
    slowPath(true);
    return;
  }
  abandonGrab = grabChain(endpoint.host, endpoint.port, endpoint.sni, (error, grabbed) => {
    abandonGrab = undefined;
    if (deadline.settled) return;
    if (grabbed) finish(found(endpoint, grabbed, now()));
    else if (isNetworkError(error)) failed(error);
    else slowPath(false);
  });
}

/** Connects to one endpoint and reports what it presents, or why it presented nothing. */
export function probe(
  endpoint: Endpoint,
  timeoutMs: number,
  now: () => Date = () => new Date(),
): Promise<EndpointResult> {
  const deadlines = deadlineQueue(timeoutMs);
  return new Promise((resolve) =>
    probeWith(endpoint, deadlines, now, timeoutMs, (result) => {
      deadlines.stop();
      resolve(result);
    }),
  );
}

/**
 * Probes every endpoint with at most `concurrency` at once and no more than `ratePerSecond` new
 * connections a second, handing each result to `onResult` as it comes; a slot waits for the
 * promise `onResult` may return. Stops starting new probes when `signal` aborts.
 */
export function scanEndpoints(
  endpoints: Iterable<Endpoint>,
  options: TlsScanOptions,
  onResult: (result: EndpointResult) => void | Promise<void>,
): Promise<void> {
  const iterator = endpoints[Symbol.iterator]();
  const concurrency = Math.max(1, options.concurrency);
  const interval = 1000 / options.ratePerSecond;
  const now = options.now ?? (() => new Date());
  const deadlines = deadlineQueue(options.timeoutMs);
  // One copy of each certificate for the whole scan: a fleet serves the same chain from every
  // endpoint, and whoever keys results by certificate (the store, the inventory) then finds the
  // same array again instead of comparing bytes.
  const certificates = createDerMap<Uint8Array>();
  return new Promise((resolve, reject) => {
    let active = 0;
    let exhausted = false;
    let ended = false;
    let nextStart = performance.now();
    let waiting: NodeJS.Timeout | undefined;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      deadlines.stop();
      clearTimeout(waiting);
      if (error === undefined) resolve();
      else reject(error);
    };
    const slotFreed = () => {
      active--;
      pump();
    };
    const report = (result: EndpointResult) => {
      result.chain = result.chain.map((der) => certificates.valueOf(der, () => der));
      let reported: void | Promise<void>;
      try {
        reported = onResult(result);
      } catch (error) {
        end(error);
        return;
      }
      if (reported) reported.then(slotFreed, end);
      else slotFreed();
    };
    const pump = () => {
      while (!ended && !exhausted && active < concurrency && !options.signal?.aborted) {
        const at = performance.now();
        if (nextStart - at > 1) {
          waiting ??= setTimeout(() => {
            waiting = undefined;
            pump();
          }, nextStart - at);
          return;
        }
        const next = iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        nextStart = Math.max(nextStart, at) + interval;
        active++;
        probeWith(next.value, deadlines, now, options.timeoutMs, report);
      }
      if (active === 0 && (exhausted || options.signal?.aborted)) end();
    };
    pump();
  });
}

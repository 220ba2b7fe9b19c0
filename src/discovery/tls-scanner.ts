import { createHash, randomBytes } from "node:crypto";
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
import { grab } from "./certificate-grab.js";
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

/** Connects to one endpoint and reports what it presents, or why it presented nothing. */
export async function probe(
  endpoint: Endpoint,
  timeoutMs: number,
  now: () => Date = () => new Date(),
): Promise<EndpointResult> {
  const sockets: Socket[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
  });
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
  // The certificate grab first (see certificate-grab.ts); whatever it cannot read, a real handshake
  // on a new connection reads or reports, so hostile and TLS 1.3-only servers end as they did.
  const attempt = async (): Promise<{
    chain: Uint8Array[];
    tlsVersion?: string | undefined;
    cipher?: string | undefined;
  }> => {
    let socket: Socket;
    try {
      socket = await plain();
    } catch (error) {
      if (error instanceof StartTlsError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code && (REFUSED.has(code) || UNREACHABLE.has(code))) throw error;
      return fullHandshake();
    }
    try {
      return await grab(socket, endpoint.sni, randomBytes(32));
    } catch {
      socket.destroy();
      return fullHandshake();
    }
  };
  const running = attempt();
  try {
    const { chain, tlsVersion, cipher } = await Promise.race([running, deadline]);
    return {
      location: endpoint.location,
      outcome: chain.length > 0 ? "ok" : "handshake",
      ...(chain.length === 0 && { error: "the server presented no certificate" }),
      chain,
      fingerprint: chain[0] && createHash("sha256").update(chain[0]).digest("hex"),
      tlsVersion,
      cipher,
      detail: {
        address: endpoint.host,
        port: endpoint.port,
        ...(endpoint.sni && { sni: endpoint.sni }),
        ...(endpoint.starttls && { starttls: endpoint.starttls }),
      },
      seenAt: now(),
    };
  } catch (error) {
    // The attempt may still settle after the deadline; its sockets are destroyed below.
    running.catch(() => undefined);
    return { location: endpoint.location, ...outcomeOf(error), chain: [], seenAt: now() };
  } finally {
    clearTimeout(timer);
    // The TLS socket before the plain one it wraps: the other way round crashes Node 20.
    for (const socket of sockets.reverse()) socket.destroy();
  }
}

/**
 * Probes every endpoint with at most `concurrency` at once and no more than `ratePerSecond` new
 * connections a second, handing each result to `onResult` as it comes. Stops starting new probes
 * when `signal` aborts.
 */
export async function scanEndpoints(
  endpoints: Iterable<Endpoint>,
  options: TlsScanOptions,
  onResult: (result: EndpointResult) => void | Promise<void>,
): Promise<void> {
  const iterator = endpoints[Symbol.iterator]();
  const interval = 1000 / options.ratePerSecond;
  let nextStart = performance.now();
  const slot = async () => {
    const now = performance.now();
    const at = Math.max(nextStart, now);
    nextStart = at + interval;
    const wait = at - now;
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  };
  const worker = async () => {
    for (;;) {
      if (options.signal?.aborted) return;
      const next = iterator.next();
      if (next.done) return;
      await slot();
      if (options.signal?.aborted) return;
      await onResult(await probe(next.value, options.timeoutMs, options.now));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
}

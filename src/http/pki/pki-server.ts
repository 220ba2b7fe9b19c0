import { createServer, type Server } from "node:http";
import { type Listening, listenOnAll } from "../server.js";

/**
 * Plain HTTP for CRLs, OCSP and AIA: relying parties fetch them while checking a TLS certificate,
 * so serving them over TLS would make revocation checking depend on itself (RFC 5280 §8).
 */
export function listenPlain(hosts: readonly string[], port: number): Promise<Listening<Server>> {
  return listenOnAll(() => createServer(), hosts, port);
}

import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { CertificateClient, type CertificatePolicy, WellKnownIssuer } from "@azure/keyvault-certificates";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminPost, adminToken, httpsClient } from "../support/https-client.js";
import { sdkOptions } from "../support/sdk.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const poll = { intervalInMs: 50 };
type Credentials = Parameters<typeof adminToken>[1];

describe.each(serverBackends)(
  "the official SDK's create poller under an approval rule on $name",
  (backend) => {
    if (!backend.enabled) return;
    let dropDatabase: (() => Promise<unknown>) | undefined;
    const data = tempDataDir();
    let server: ServerProcess;
    let client: CertificateClient;
    let approver: Credentials;
    let approverId: string;

    /** An admin API call as `who`, answering the status and JSON body. */
    async function adminCall(who: Credentials, method: string, path: string, body?: unknown) {
      const http = httpsClient(server.ca);
      try {
        const res = await http.send(`${server.admin.authorityHost}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${await adminToken(http, who)}`,
            ...(body !== undefined && { "content-type": "application/json" }),
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
        return { status: res.status, body: res.json<Record<string, unknown>>() };
      } finally {
        http.close();
      }
    }

    /** The pending approval request of the create asking for `host`. */
    async function pendingApprovalFor(host: string): Promise<string> {
      const listed = await adminCall(server.admin, "GET", "/admin/approvals?state=pending");
      const items = listed.body.value as { id: string; summary: string }[];
      const found = items.find((a) => a.summary.includes(host));
      if (!found) throw new Error(`no pending approval for ${host} in ${JSON.stringify(items)}`);
      return found.id;
    }

    /** The certificate's operation as the SDK's operation poller reads it, without waiting for it. */
    async function operationOf(name: string) {
      const operation = await client.getCertificateOperation(name, poll);
      return operation.getOperationState().certificateOperation ?? {};
    }

    const wildcard = (host: string): CertificatePolicy => ({
      issuerName: WellKnownIssuer.Self,
      subject: `CN=*.${host}`,
      subjectAlternativeNames: { dnsNames: [`*.${host}`] },
    });

    beforeAll(async () => {
      const database = await backendArgs(backend);
      dropDatabase = database.drop;
      server = await startServerProcess(join(data.dir, "server"), database.args);
      const { credential, clientOptions } = sdkOptions(server);
      client = new CertificateClient(server.admin.vaultUrl, credential, clientOptions);
      const rule = await adminCall(server.admin, "PUT", "/admin/rules", {
        kind: "approval",
        value: { approvals: 1, wildcards: true },
        entries: ["keyvault-create"],
      });
      expect(rule.status, JSON.stringify(rule.body)).toBe(200);
      const principal = await adminPost(server, "/admin/principals", { displayName: "approver" });
      await adminPost(server, "/admin/roleassignments", {
        principalId: principal.id,
        role: "Strongroom Administrator",
        scope: "/",
      });
      approverId = String(principal.id);
      approver = {
        ...server.admin,
        clientId: String(principal.clientId),
        clientSecret: String(principal.clientSecret),
      };
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      await dropDatabase?.();
      data.remove();
    });

    it("keeps waiting while the approval is pending and completes with the certificate once a second principal approves", async () => {
      const poller = await client.beginCreateCertificate("held", wildcard("held.example"), poll);
      for (let i = 0; i < 3; i++) {
        await poller.poll();
        expect(poller.isDone()).toBe(false);
        expect((await operationOf("held")).status).toBe("inProgress");
      }
      const id = await pendingApprovalFor("held.example");
      expect((await operationOf("held")).statusDetails).toContain(id);

      const approved = await adminCall(approver, "POST", `/admin/approvals/${id}/approve`, { reason: "ok" });
      expect(approved.status).toBe(200);
      const certificate = await poller.pollUntilDone();
      const x509 = new X509Certificate(certificate.cer as Uint8Array);
      expect(x509.subjectAltName).toBe("DNS:*.held.example");
    });

    it("fails the poller with the approver's reason when the create is denied", async () => {
      const poller = await client.beginCreateCertificate("refused", wildcard("refused.example"), poll);
      await poller.poll();
      expect(poller.isDone()).toBe(false);
      const id = await pendingApprovalFor("refused.example");
      const denied = await adminCall(approver, "POST", `/admin/approvals/${id}/deny`, {
        reason: "wildcards belong to the edge team",
      });
      expect(denied.status).toBe(200);
      await expect(poller.pollUntilDone()).rejects.toThrow(/wildcards belong to the edge team/);
      // The SDK's operation poller raises a failed operation's error on its first poll.
      await expect(client.getCertificateOperation("refused", poll)).rejects.toThrow(
        new RegExp(`Approval request ${id} was denied by ${approverId}`),
      );
    });
  },
);

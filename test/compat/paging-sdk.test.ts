import { CertificateClient, type ListPropertiesOfCertificatesOptions } from "@azure/keyvault-certificates";
import { KeyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sdkOptions } from "../support/sdk.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const poll = { intervalInMs: 50 };

/**
 * @azure/keyvault-certificates 4.10.3 drops byPage's maxPageSize (its paging helper reads only the
 * continuation token, where the keys SDK maps it to maxresults), so the page size also goes in as
 * the `maxresults` its generated operation forwards to the service.
 */
const certificatePages = (maxPageSize: number, includePending: boolean) =>
  ({
    maxresults: maxPageSize,
    ...(includePending && { includePending }),
  }) as ListPropertiesOfCertificatesOptions;

/** Every page `byPage` yields, as the names on it. */
async function pagesOf(pages: AsyncIterable<{ name?: string | undefined }[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const page of pages) out.push(page.map((item) => item.name ?? ""));
  return out;
}

describe.each(serverBackends)("paging through the official SDKs on $name", (backend) => {
  if (!backend.enabled) return;
  let dropDatabase: (() => Promise<unknown>) | undefined;
  const data = tempDataDir();
  let server: ServerProcess;
  let keys: KeyClient;
  let certificates: CertificateClient;
  const issued = ["cert-a", "cert-b", "cert-c", "cert-d", "cert-e"];
  const pending = ["pending-a", "pending-b", "pending-c"];

  beforeAll(async () => {
    const database = await backendArgs(backend);
    dropDatabase = database.drop;
    server = await startServerProcess(data.dir, database.args);
    const { credential, clientOptions } = sdkOptions(server);
    keys = new KeyClient(server.admin.vaultUrl, credential, clientOptions);
    certificates = new CertificateClient(server.admin.vaultUrl, credential, clientOptions);
    for (const name of issued) {
      const poller = await certificates.beginCreateCertificate(
        name,
        { issuerName: "Self", subject: `CN=${name}` },
        poll,
      );
      await poller.pollUntilDone();
    }
    for (const name of pending) {
      await certificates.beginCreateCertificate(name, { issuerName: "Unknown", subject: `CN=${name}` }, poll);
    }
    for (let i = 0; i < 5; i++) await keys.createEcKey(`key-${i}`, { curve: "P-256" });
  });

  afterAll(async () => {
    await server?.stop();
    await dropDatabase?.();
    data.remove();
  });

  it("pages keys by maxPageSize, each key once", async () => {
    const pages = await pagesOf(keys.listPropertiesOfKeys().byPage({ maxPageSize: 2 }));
    // Certificates' backing keys are keys too (managed).
    const expected = [...issued, ...Array.from({ length: 5 }, (_, i) => `key-${i}`)].sort();
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 2, 2]);
    expect(pages.flat().sort()).toEqual(expected);
  });

  it("pages certificates by maxPageSize, pending ones left out unless asked for", async () => {
    const pages = await pagesOf(
      certificates.listPropertiesOfCertificates(certificatePages(2, false)).byPage({ maxPageSize: 2 }),
    );
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(issued);
  });

  it.each([1, 2, 3, 5, 8, 25])(
    "pages certificates with includePending by maxPageSize %i, no page larger, each entry once",
    async (maxPageSize) => {
      const pages = await pagesOf(
        certificates
          .listPropertiesOfCertificates(certificatePages(maxPageSize, true))
          .byPage({ maxPageSize }),
      );
      const all = [...issued, ...pending];
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(maxPageSize);
      expect(pages.slice(0, -1).every((page) => page.length === maxPageSize)).toBe(true);
      expect(pages).toHaveLength(Math.ceil(all.length / maxPageSize));
      expect(pages.flat()).toEqual(all);
    },
  );
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";

// Who sent each version: the specs' data-plane versions that the SDKs and az shipped with.
const ACCEPTED: [version: string, sentBy: string][] = [
  ["2015-06-01", "azure-keyvault 0.x (Python), Microsoft.Azure.KeyVault 1.0"],
  ["2016-10-01", "azure-keyvault 1.x (Python), azure-sdk-for-go keyvault 2016-10-01"],
  ["7.0-preview", "azure-keyvault 1.1 previews"],
  ["7.0", "azure-keyvault-* 4.0 (Python), az 2.0.x"],
  ["7.1-preview", "azure-keyvault-* 4.2 betas"],
  ["7.1", "azure-keyvault-* 4.2, @azure/keyvault-* 4.1"],
  ["7.2-preview", "azure-keyvault-keys 4.4 betas"],
  ["7.2", "azure-keyvault-* 4.3, @azure/keyvault-* 4.2"],
  ["7.3-preview", "azure-keyvault-keys 4.5 betas"],
  ["7.3", "azure-keyvault-secrets/certificates 4.7 (Debian), @azure/keyvault-* 4.4"],
  ["7.4-preview.1", "azure-keyvault-keys 4.8 (Debian), az 2.45"],
  ["7.4", "azure-keyvault-* 4.8, @azure/keyvault-* 4.7"],
  ["7.5-preview.1", "azure-keyvault-* 4.8 betas"],
  ["7.5", "azure-keyvault-* 4.9, @azure/keyvault-* 4.8"],
  ["7.6-preview.1", "azure-keyvault-* 4.10 betas"],
  ["7.6-preview.2", "@azure/keyvault-* 4.10 betas"],
  ["7.6", "@azure/keyvault-* 4.10.0"],
  ["2025-07-01", "@azure/keyvault-* 4.10.2+"],
  ["2026-04-01", "@azure/keyvault-secrets 4.12"],
];

const REFUSED = ["1999-01-01", "7.7", "7.4-preview.2", "7.6-preview", "8.0", "latest", "7.6 ", "2025-07-02"];

describe("api-version: every version a released SDK or az has sent works; others get Key Vault's 400", () => {
  let server: InProcess;
  beforeAll(async () => {
    server = await startInProcess();
    const set = await server.kv({
      method: "PUT",
      url: "/secrets/probe?api-version=7.6",
      body: { value: "v" },
    });
    expect(set.statusCode).toBe(200);
  });
  afterAll(() => server?.stop());

  it.each(ACCEPTED)("accepts %s (sent by %s)", async (version) => {
    const res = await server.kv({
      method: "GET",
      url: `/secrets/probe?api-version=${encodeURIComponent(version)}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().value).toBe("v");
  });

  it.each(REFUSED)("refuses %j with 400 BadParameter naming the version", async (version) => {
    const res = await server.kv({
      method: "GET",
      url: `/secrets/probe?api-version=${encodeURIComponent(version)}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("BadParameter");
    expect(res.json().error.innererror.code).toBe("UnsupportedApiVersion");
    expect(res.json().error.message).toContain(`(${version})`);
  });
});

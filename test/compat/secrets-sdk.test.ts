import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

describe("the official @azure/keyvault-secrets SDK with @azure/identity", () => {
  const data = tempDataDir();
  let server: ServerProcess;
  let client: SecretClient;

  beforeAll(async () => {
    server = await startServerProcess(data.dir);
    const tlsOptions = { ca: server.ca };
    const credential = new ClientSecretCredential(
      server.admin.tenantId,
      server.admin.clientId,
      server.admin.clientSecret,
      { authorityHost: server.admin.authorityHost, disableInstanceDiscovery: true, tlsOptions },
    );
    client = new SecretClient(server.admin.vaultUrl, credential, {
      disableChallengeResourceVerification: true,
      tlsOptions,
    });
  });

  afterAll(async () => {
    await server?.stop();
    data.remove();
  });

  it("sets and gets a secret", async () => {
    const set = await client.setSecret("db-password", "hunter2", {
      contentType: "text/plain",
      tags: { env: "test" },
    });
    expect(set.value).toBe("hunter2");
    const got = await client.getSecret("db-password");
    expect(got.value).toBe("hunter2");
    expect(got.properties.contentType).toBe("text/plain");
    expect(got.properties.tags).toEqual({ env: "test" });
    expect(got.properties.version).toMatch(/^[0-9a-f]{32}$/);
  });
});

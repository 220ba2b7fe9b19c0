import { SecretClient } from "@azure/keyvault-secrets";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { collect, sdkOptions } from "../support/sdk.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

const RATE = 10;

describe("throttling per principal, as Key Vault does it", () => {
  const data = tempDataDir();
  let server: ServerProcess;
  let http: ReturnType<typeof httpsClient>;

  beforeAll(async () => {
    server = await startServerProcess(data.dir, [], {
      STRONGROOM_THROTTLE_PRINCIPAL_PER_SECOND: String(RATE),
      STRONGROOM_THROTTLE_PRINCIPAL_BURST: String(RATE),
    });
    http = httpsClient(server.ca);
  }, 60_000);

  afterAll(async () => {
    http?.close();
    await server?.stop();
    data.remove();
  });

  it("answers a flood with 429 Throttled and a Retry-After", async () => {
    const token = await adminToken(http, server.admin);
    const responses = await Promise.all(
      Array.from({ length: 3 * RATE }, () =>
        http.send(`${server.admin.vaultUrl}/secrets?api-version=7.6`, {
          headers: { authorization: `Bearer ${token}` },
        }),
      ),
    );
    const throttled = responses.filter((r) => r.status === 429);
    expect(responses.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(RATE);
    expect(throttled.length).toBeGreaterThanOrEqual(RATE);
    expect(throttled[0]?.json()).toMatchObject({ error: { code: "Throttled" } });
    expect(Number(throttled[0]?.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1500));
  });

  it("loses no request: the SDK's retry brings every write and read through", async () => {
    const { credential, clientOptions } = sdkOptions(server);
    const client = new SecretClient(server.admin.vaultUrl, credential, clientOptions);
    const count = 2 * RATE;
    const written = await Promise.all(
      Array.from({ length: count }, (_, i) => client.setSecret("flooded", `value-${i}`)),
    );
    expect(written).toHaveLength(count);
    const versions = await collect(client.listPropertiesOfSecretVersions("flooded"));
    expect(versions).toHaveLength(count);
    const values = await Promise.all(
      written.map((w) => client.getSecret("flooded", { version: w.properties.version as string })),
    );
    expect(values.map((v) => v.value).sort()).toEqual(
      Array.from({ length: count }, (_, i) => `value-${i}`).sort(),
    );
  }, 60_000);
});

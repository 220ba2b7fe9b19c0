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
    // Each refused caller is told its own slot in the refill, one interval (1000 / RATE ms) after
    // the one before, in milliseconds and in whole seconds.
    const waits = throttled.map((r) => Number(r.headers["retry-after-ms"])).sort((a, b) => a - b);
    expect(new Set(waits).size).toBe(waits.length);
    expect(waits.at(-1)).toBeGreaterThanOrEqual((throttled.length - 1) * (1000 / RATE));
    for (const r of throttled) {
      expect(r.headers["x-ms-retry-after-ms"]).toBe(r.headers["retry-after-ms"]);
      expect(Number(r.headers["retry-after"])).toBe(
        Math.max(1, Math.ceil(Number(r.headers["retry-after-ms"]) / 1000)),
      );
    }
    await new Promise((r) => setTimeout(r, (waits.at(-1) ?? 0) + 1500));
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

  it("brings 64 concurrent SDK clients through: each is told when the refill has its token", async () => {
    const { credential, clientOptions } = sdkOptions(server);
    const clients = Array.from(
      { length: 64 },
      () => new SecretClient(server.admin.vaultUrl, credential, clientOptions),
    );
    // The SDK's default: three retries, each after the Retry-After the server sent.
    const written = await Promise.allSettled(clients.map((c, i) => c.setSecret(`crowd-${i}`, `value-${i}`)));
    const failures = written.filter((w) => w.status === "rejected");
    expect(failures.map((f) => String((f as PromiseRejectedResult).reason))).toEqual([]);
    const read = await Promise.all(clients.map((c, i) => c.getSecret(`crowd-${i}`)));
    expect(read.map((r) => r.value)).toEqual(clients.map((_, i) => `value-${i}`));
  }, 120_000);
});

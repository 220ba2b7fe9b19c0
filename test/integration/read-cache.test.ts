import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcess, startInProcess } from "../support/in-process.js";
import { tempDataDir } from "../support/server-process.js";

const V = "api-version=7.6";

// On SQLite the server answers repeated reads from memory; these are the changes it must not miss.
describe("cached reads on SQLite", () => {
  const data = tempDataDir();
  let server: InProcess;
  let other: Database.Database;

  beforeAll(async () => {
    server = await startInProcess({ dataDir: data.dir });
    // Another connection to the same file, as another process (a CLI run, a restore) would open.
    other = new Database(join(data.dir, "strongroom.db"));
  });
  afterAll(async () => {
    other.close();
    await server.stop();
    data.remove();
  });

  const put = (name: string, value: string) =>
    server.kv({ method: "PUT", url: `/secrets/${name}?${V}`, body: { value } });
  const get = (name: string) => server.kv({ method: "GET", url: `/secrets/${name}?${V}` });

  it("serves a new version written through the server at once", async () => {
    await put("rotated", "first");
    expect((await get("rotated")).json().value).toBe("first");
    await put("rotated", "second");
    expect((await get("rotated")).json().value).toBe("second");
  });

  it("sees another connection disable a version on the next request", async () => {
    await put("disabled-elsewhere", "value");
    expect((await get("disabled-elsewhere")).statusCode).toBe(200);
    expect((await get("disabled-elsewhere")).statusCode).toBe(200);
    other
      .prepare("update object_versions set enabled = 0 where collection = 'secrets' and name_key = ?")
      .run("disabled-elsewhere");
    const refused = await get("disabled-elsewhere");
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe("Forbidden");
  });

  it("sees another connection delete an object on the next request", async () => {
    await put("deleted-elsewhere", "value");
    expect((await get("deleted-elsewhere")).statusCode).toBe(200);
    other
      .prepare("update objects set deleted_at = ? where collection = 'secrets' and name_key = ?")
      .run(Date.now(), "deleted-elsewhere");
    const gone = await get("deleted-elsewhere");
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe("SecretNotFound");
  });

  it("sees a write made straight through the server's own database handle, bypassing the services", async () => {
    await put("changed-by-sql", "value");
    expect((await get("changed-by-sql")).statusCode).toBe(200);
    await server.strongroom.core.storage.db
      .updateTable("object_versions")
      .set({ enabled: 0 })
      .where("name_key", "=", "changed-by-sql")
      .execute();
    expect((await get("changed-by-sql")).statusCode).toBe(403);
  });

  it("serves a certificate's policy as another connection last wrote it", async () => {
    const policyOf = async () =>
      (await server.kv({ method: "GET", url: `/certificates/policy-elsewhere/?${V}` })).json().policy
        .x509_props.validity_months;
    await server.createCertificate("policy-elsewhere", {
      policy: { issuer: { name: "Self" }, x509_props: { subject: "CN=p", validity_months: 12 } },
    });
    expect(await policyOf()).toBe(12);
    expect(await policyOf()).toBe(12);
    const row = other
      .prepare("select policy from objects where collection = 'certificates' and name_key = ?")
      .get("policy-elsewhere") as { policy: string };
    other
      .prepare("update objects set policy = ? where collection = 'certificates' and name_key = ?")
      .run(row.policy.replace('"validityMonths":12', '"validityMonths":7'), "policy-elsewhere");
    expect(await policyOf()).toBe(7);
  });
});

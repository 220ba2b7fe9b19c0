import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, type TestDatabase } from "../support/backends.js";
import { csrfOf, SESSION_COOKIE, signInForm } from "../support/dashboard.js";
import { fakeClock, type InProcess, startInProcess } from "../support/in-process.js";

const PASSWORD = "correct horse battery staple";
const MINUTE = 60_000;

describe.each(backends.filter((b) => b.available))("dashboard sign-in and sessions on $engine", (backend) => {
  const clock = fakeClock();
  let database: TestDatabase;
  let server: InProcess;
  let host: string;

  const page = (cookie?: string, url = "/ui/") =>
    server.strongroom.app.inject({ method: "GET", url, headers: { host, ...(cookie && { cookie }) } });
  const admin = (
    method: "GET" | "POST",
    url: string,
    cookie: string | undefined,
    headers = {},
    body?: unknown,
  ) =>
    server.strongroom.app.inject({
      method,
      url,
      headers: {
        host,
        ...(cookie && { cookie }),
        ...(body !== undefined && { "content-type": "application/json" }),
        ...headers,
      },
      ...(body !== undefined && { payload: JSON.stringify(body) }),
    });
  const user = async (name: string, role?: string) => {
    const created = await server.strongroom.core.users.create(name, PASSWORD);
    if (role) await server.strongroom.core.access.assign(created.principal.id, role, "/");
    return created;
  };
  const auditRows = async () => {
    await server.strongroom.core.audit.drain();
    const entries = [];
    for await (const row of server.strongroom.core.audit.records(0)) entries.push(row);
    return { entries };
  };

  beforeAll(async () => {
    database = await backend.createDatabase();
    server = await startInProcess({
      clock,
      database: database.url,
      flags: {
        jobs: false,
        accessCacheMs: 0,
        signInUserFailures: 3,
        signInAddressFailures: 4,
        signInLockoutMs: 15 * MINUTE,
        uiSessionIdleMs: 30 * MINUTE,
        uiSessionAbsoluteMs: 120 * MINUTE,
      },
    });
    host = `localhost:${server.strongroom.port}`;
    await user("alice", "Strongroom Administrator");
    await user("bob", "Strongroom Reader");
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  it("signs a user in with the right password into a Strict, HttpOnly, Secure, host-only cookie", async () => {
    const answer = await signInForm(server, "Alice", PASSWORD, "10.0.0.1");
    expect(answer.statusCode).toBe(303);
    expect(answer.location).toBe("/ui/");
    const cookie = answer.setCookie.find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? "";
    expect(cookie).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Strict$/);
    const shell = await page(answer.cookie);
    expect(shell.statusCode).toBe(200);
    expect(shell.headers["cache-control"]).toBe("no-store");
    expect(shell.body).toContain("Signed in as <strong>alice</strong>");
  });

  it("keeps only a keyed digest of the session id in the database", async () => {
    const answer = await signInForm(server, "alice", PASSWORD, "10.0.0.1");
    const token = answer.cookie?.split("=")[1] ?? "";
    const rows = await server.strongroom.core.storage.db.selectFrom("ui_sessions").selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(token.split(".")[1]);
  });

  it("answers neither the dashboard nor the admin API without a session", async () => {
    const shell = await page(undefined);
    expect(shell.statusCode).toBe(303);
    expect(shell.headers.location).toBe("/ui/sign-in");
    expect(shell.body).not.toContain("csrf-token");
    const api = await admin("GET", "/admin/vaults", undefined);
    expect(api.statusCode).toBe(401);
    const forged = await admin("GET", "/admin/vaults", `${SESSION_COOKIE}=made-up`);
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.innererror.code).toBe("SessionInvalid");
  });

  it("refuses a write through the admin API without the session's CSRF token, and takes it with one", async () => {
    const { cookie } = await signInForm(server, "alice", PASSWORD, "10.0.0.2");
    const csrf = csrfOf((await page(cookie)).body);
    const missing = await admin("POST", "/admin/vaults", cookie, {}, { name: "no-token" });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().error.innererror.code).toBe("CsrfTokenMissing");
    const wrong = await admin(
      "POST",
      "/admin/vaults",
      cookie,
      { "x-csrf-token": `${csrf}x` },
      { name: "no-token" },
    );
    expect(wrong.statusCode).toBe(403);
    const created = await admin(
      "POST",
      "/admin/vaults",
      cookie,
      { "x-csrf-token": csrf },
      { name: "by-alice" },
    );
    expect(created.statusCode).toBe(201);
    expect((await server.strongroom.core.vaults.list()).map((v) => v.name)).toContain("by-alice");
    expect((await server.strongroom.core.vaults.list()).map((v) => v.name)).not.toContain("no-token");
  });

  it("records the signed-in user as the actor of what the dashboard does", async () => {
    const alice = await server.strongroom.core.users.find("alice");
    const { cookie } = await signInForm(server, "alice", PASSWORD, "10.0.0.3");
    const csrf = csrfOf((await page(cookie)).body);
    const created = await admin(
      "POST",
      "/admin/vaults",
      cookie,
      { "x-csrf-token": csrf },
      { name: "audited" },
    );
    expect(created.statusCode).toBe(201);
    const { entries } = await auditRows();
    const rows = entries.filter(
      (e) => e.operation === "VaultCreate" && e.requestId === created.headers["x-ms-request-id"],
    );
    expect(rows.map((r) => [r.outcome, r.principalId])).toEqual([
      ["pending", alice.principal.id],
      ["success", alice.principal.id],
    ]);
  });

  it("lets a Reader read through the dashboard's session and refuses its writes", async () => {
    const { cookie } = await signInForm(server, "bob", PASSWORD, "10.0.0.4");
    const csrf = csrfOf((await page(cookie)).body);
    expect((await admin("GET", "/admin/vaults", cookie)).statusCode).toBe(200);
    const write = await admin("POST", "/admin/vaults", cookie, { "x-csrf-token": csrf }, { name: "by-bob" });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.innererror.code).toBe("ForbiddenByRbac");
    expect((await server.strongroom.core.vaults.list()).map((v) => v.name)).not.toContain("by-bob");
  });

  it("refuses a wrong password and an unknown name alike", async () => {
    const wrong = await signInForm(server, "carol-does-not-exist", PASSWORD, "10.0.1.1");
    const bad = await signInForm(server, "bob", "not the password at all", "10.0.1.2");
    for (const answer of [wrong, bad]) {
      expect(answer.statusCode).toBe(401);
      expect(answer.cookie).toBeUndefined();
      expect(answer.body).toContain("The username or password is wrong.");
    }
  });

  it("locks a user out after repeated failures, right password or not, audits it, and lets the user in once the lockout ends", async () => {
    await user("dave", "Strongroom Reader");
    const statuses = [];
    for (const address of ["10.1.0.1", "10.1.0.2", "10.1.0.3"]) {
      statuses.push((await signInForm(server, "dave", "guess guess guess", address)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 429]);
    const locked = await signInForm(server, "dave", PASSWORD, "10.1.0.4");
    expect(locked.statusCode).toBe(429);
    expect(locked.cookie).toBeUndefined();
    expect(locked.body).toContain("Too many failed sign-ins");
    const { entries } = await auditRows();
    expect(
      entries.filter((e) => e.operation === "UiSignIn" && String(e.detail).startsWith("LockedOut (dave)")),
    ).toHaveLength(2);
    clock.advance(15 * MINUTE);
    expect((await signInForm(server, "dave", PASSWORD, "10.1.0.5")).statusCode).toBe(303);
  });

  it("locks a client address that tries many names", async () => {
    const statuses = [];
    for (const name of ["erin", "frank", "grace", "heidi"]) {
      statuses.push((await signInForm(server, name, PASSWORD, "10.2.0.1")).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect((await signInForm(server, "alice", PASSWORD, "10.2.0.1")).statusCode).toBe(429);
    expect((await signInForm(server, "alice", PASSWORD, "10.2.0.2")).statusCode).toBe(303);
  });

  it("ends a session left idle for the idle timeout", async () => {
    const { cookie } = await signInForm(server, "alice", PASSWORD, "10.3.0.1");
    clock.advance(29 * MINUTE);
    expect((await page(cookie)).statusCode).toBe(200);
    clock.advance(29 * MINUTE);
    expect((await page(cookie)).statusCode).toBe(200);
    clock.advance(30 * MINUTE);
    const idle = await page(cookie);
    expect(idle.statusCode).toBe(303);
    expect(String(idle.headers["set-cookie"])).toContain(`${SESSION_COOKIE}=; Path=/`);
  });

  it("ends a busy session at the absolute timeout", async () => {
    const { cookie } = await signInForm(server, "alice", PASSWORD, "10.3.0.2");
    for (let used = 0; used < 100; used += 20) {
      clock.advance(20 * MINUTE);
      expect((await page(cookie)).statusCode, `after ${used + 20} minutes`).toBe(200);
    }
    clock.advance(20 * MINUTE);
    expect((await page(cookie)).statusCode).toBe(303);
  });

  it("signs out only with the session's CSRF token, and the cookie is worthless afterwards", async () => {
    const { cookie } = await signInForm(server, "alice", PASSWORD, "10.3.0.3");
    const csrf = csrfOf((await page(cookie)).body);
    const signOut = (token: string) =>
      server.strongroom.app.inject({
        method: "POST",
        url: "/ui/sign-out",
        headers: { host, cookie: cookie as string, "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams({ csrf: token }).toString(),
      });
    expect((await signOut("forged")).statusCode).toBe(403);
    expect((await page(cookie)).statusCode).toBe(200);
    const out = await signOut(csrf);
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe("/ui/sign-in");
    expect((await page(cookie)).statusCode).toBe(303);
    expect((await admin("GET", "/admin/vaults", cookie)).statusCode).toBe(401);
  });

  it("ends a user's sessions when the password changes", async () => {
    const { cookie } = await signInForm(server, "bob", PASSWORD, "10.3.0.4");
    expect((await page(cookie)).statusCode).toBe(200);
    await server.strongroom.core.users.setPassword("bob", "a brand new passphrase");
    expect((await page(cookie)).statusCode).toBe(303);
  });

  it("refuses a session cookie from another installation", async () => {
    const other = await startInProcess({ flags: { jobs: false } });
    try {
      await other.strongroom.core.users.create("alice", PASSWORD);
      const theirs = await signInForm(other, "alice", PASSWORD);
      expect(theirs.statusCode).toBe(303);
      expect((await page(theirs.cookie)).statusCode).toBe(303);
      const api = await admin("GET", "/admin/vaults", theirs.cookie);
      expect(api.statusCode).toBe(401);
      expect(api.json().error.message).toContain("another installation");
    } finally {
      await other.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInForm } from "../support/dashboard.js";
import { auditRows, type InProcess, startInProcess } from "../support/in-process.js";
import { testCertificate } from "../support/inventory-certs.js";

const PASSWORD = "a long enough passphrase";
const DAY_MS = 86_400_000;
/** A subject that would end the page's data block and run a script, were it copied in as it is. */
const HOSTILE = "CN=</script><script>alert(1)</script>";

describe("the dashboard's Inventory drawn by the server", () => {
  let server: InProcess;
  let readerCookie = "";
  let nobodyCookie = "";
  let readerId = "";
  let nobodyId = "";

  const page = (url: string, cookie: string) =>
    server.kv({ method: "GET", url, auth: false, headers: { cookie } });
  /** The answers the page came with, by admin API path. */
  const readsOf = (body: string) => {
    const json = /<script type="application\/json" id="page-reads">([^<]*)<\/script>/.exec(body)?.[1];
    return json === undefined
      ? undefined
      : (JSON.parse(json) as Record<string, { value: { subject: string }[] }>);
  };

  beforeAll(async () => {
    server = await startInProcess({ flags: { jobs: false } });
    const { core } = server.strongroom;
    const now = Date.now();
    const certificates = await Promise.all([
      testCertificate({ subject: "CN=soon.example", notAfter: new Date(now + 10 * DAY_MS) }),
      testCertificate({ subject: "CN=later.example", notAfter: new Date(now + 300 * DAY_MS) }),
      testCertificate({ subject: HOSTILE, notAfter: new Date(now + 400 * DAY_MS) }),
    ]);
    await core.inventory.observe(
      certificates.map((c, i) => ({
        der: c.der,
        location: `tls://10.0.0.${i + 1}:443`,
        source: "tls" as const,
        seenAt: new Date(now),
      })),
    );
    const reader = await core.users.create("reader", PASSWORD);
    await core.access.assign(reader.principal.id, "Strongroom Reader", "/");
    readerId = reader.principal.id;
    nobodyId = (await core.users.create("nobody", PASSWORD)).principal.id;
    readerCookie = (await signInForm(server, "reader", PASSWORD)).cookie ?? "";
    nobodyCookie = (await signInForm(server, "nobody", PASSWORD)).cookie ?? "";
  });
  afterAll(() => server?.stop());

  it("sends the first page's rows with the HTML, its filters as a plain GET form of the same page", async () => {
    const answer = await page("/ui/inventory", readerCookie);
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain("<title>Inventory – Strongroom</title>");
    // An empty attribute is written bare (`data-query`), which HTML reads as "".
    expect(answer.body).toMatch(/<table id="inventory" aria-busy="false" data-query(="")?>/);
    expect(answer.body).toContain(">CN=soon.example</a>");
    expect(answer.body).toContain(">CN=later.example</a>");
    expect(answer.body).toContain(
      '<form class="filters" aria-label="Filters" method="get" action="/ui/inventory">',
    );
    expect(String(answer.headers["content-security-policy"])).toContain("script-src 'self'");
    expect(String(answer.headers["content-security-policy"])).not.toContain("unsafe-inline");
  });

  it("draws the rows the address's filters ask for, as the form sends them without a script", async () => {
    // A plain form submission names every field, the empty ones too.
    const answer = await page("/ui/inventory?subject=&expiringWithin=30d&source=&expired=", readerCookie);
    expect(answer.body).toContain('data-query="expiringWithin=30d"');
    expect(answer.body).toContain(">CN=soon.example</a>");
    expect(answer.body).not.toContain("CN=later.example");
    expect(answer.body).toContain('name="expiringWithin" value="30d"');
  });

  it("hands the browser the answers it drew with, as data that no value can break out of", async () => {
    const answer = await page("/ui/inventory", readerCookie);
    const reads = readsOf(answer.body);
    expect(Object.keys(reads ?? {})).toEqual(["/admin/inventory?limit=25"]);
    const subjects = reads?.["/admin/inventory?limit=25"]?.value.map((c) => c.subject) ?? [];
    // The inventory writes names as RFC 4514 does (`CN=\</script\>…`): the tag is still there.
    expect(subjects.find((s) => s.includes("alert(1)"))).toContain("</script");
    // It is in the rows as text and in the data block escaped: the page's only script elements are
    // the entry module and the data block.
    expect(answer.body.match(/<script/g)).toHaveLength(2);
    expect(answer.body).toContain("&lt;/script");
  });

  it("reads them as the user through the admin API, with its rights and its audit", async () => {
    await page("/ui/inventory?owner=payments", readerCookie);
    const rows = (await auditRows(server)).filter(
      (r) => r.principalId === readerId && r.operation === "InventoryList",
    );
    expect(rows.some((r) => r.status === 200 && r.outcome === "success")).toBe(true);
  });

  it("leaves the page to the browser, which shows the refusal, when the user may not read the inventory", async () => {
    const answer = await page("/ui/inventory", nobodyCookie);
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toContain('<div id="app"></div>');
    expect(readsOf(answer.body)).toBeUndefined();
    expect(answer.body).not.toContain("CN=soon.example");
    const refused = (await auditRows(server)).filter(
      (r) => r.principalId === nobodyId && r.operation === "InventoryList",
    );
    expect(refused.map((r) => r.status)).toContain(403);
  });
});

import { useState } from "preact/hooks";
import type {
  certificateItemView,
  keyItemView,
  secretItemView,
} from "../../../http/admin/vault-object-wire.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import type { PageProps } from "../pages.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

export type CertificateItem = ReturnType<typeof certificateItemView>;
export type KeyItem = ReturnType<typeof keyItemView>;
export type SecretItem = ReturnType<typeof secretItemView>;
type Item = CertificateItem | KeyItem | SecretItem;
type Listing = { value: Item[]; next: string | null };

export const COLLECTIONS = [
  { path: "certificates", title: "Certificates" },
  { path: "keys", title: "Keys" },
  { path: "secrets", title: "Secrets" },
] as const;
export type CollectionPath = (typeof COLLECTIONS)[number]["path"];

/** `/admin/vaults/{vault}` with each later part escaped. */
export const vaultApi = (vault: string, ...parts: string[]) =>
  ["/admin/vaults", vault, ...parts].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join("/");

/** What kind of object a row is, in a word or two: key type, or content type. */
function kindOf(item: Item): string {
  if ("keyType" in item) return [item.keyType, item.keySize ?? item.curve].filter(Boolean).join(" ");
  return item.contentType ?? "";
}

/** One vault: its certificates, keys or secrets (a tab each), its certificate issuers and contacts. */
export default function VaultPage({ params, url }: PageProps) {
  const vault = params.vault ?? "";
  const tab = (COLLECTIONS.find((c) => c.path === url.searchParams.get("tab")) ?? COLLECTIONS[0]).path;
  return (
    <>
      <h2>Vault {vault}</h2>
      <p>
        <Link href="/ui/vaults">Back to the vaults</Link>
      </p>
      <nav aria-label="Object types" class="tabs">
        {COLLECTIONS.map((c) => (
          <Link
            key={c.path}
            href={`/ui/vaults/${encodeURIComponent(vault)}?tab=${c.path}`}
            aria-current={c.path === tab ? "page" : undefined}
          >
            {c.title}
          </Link>
        ))}
      </nav>
      <Objects key={tab} vault={vault} collection={tab} />
      <Issuers vault={vault} />
      <Contacts vault={vault} />
    </>
  );
}

function Objects({ vault, collection }: { vault: string; collection: CollectionPath }) {
  const [pages, setPages] = useState<string[]>([""]);
  const after = pages.at(-1) ?? "";
  const query = after ? `?after=${encodeURIComponent(after)}` : "";
  const [listed] = useLoad(
    () => api<Listing>("GET", `${vaultApi(vault, collection)}${query}`),
    `${vault}/${collection}/${after}`,
  );
  const title = COLLECTIONS.find((c) => c.path === collection)?.title ?? collection;
  return (
    <section aria-labelledby="objects-heading">
      <h3 id="objects-heading">{title}</h3>
      <LoadFailed load={listed} />
      {listed.state === "done" && listed.value.value.length === 0 && <p>None.</p>}
      {listed.state === "done" && listed.value.value.length > 0 && (
        <DataTable
          id="objects"
          caption={`${title} of the vault`}
          headers={["Name", "Type", "Enabled", "Not before", "Expires", "Tags", "Updated"]}
        >
          {listed.value.value.map((o) => (
            <tr key={o.name}>
              <td>
                <Link
                  href={`/ui/vaults/${encodeURIComponent(vault)}/${collection}/${encodeURIComponent(o.name)}`}
                >
                  {o.name}
                </Link>
                {o.managed ? " (certificate's)" : ""}
              </td>
              <td>{kindOf(o)}</td>
              <td>{o.enabled ? "yes" : "no"}</td>
              <td>{o.notBefore ? utc(o.notBefore) : ""}</td>
              <td>{o.expiresAt ? utc(o.expiresAt) : ""}</td>
              <td>{tagText(o.tags)}</td>
              <td>{utc(o.updatedAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <div class="row">
        {pages.length > 1 && (
          <button type="button" onClick={() => setPages(pages.slice(0, -1))}>
            Previous page
          </button>
        )}
        {listed.state === "done" && listed.value.next && (
          <button type="button" onClick={() => setPages([...pages, listed.value.next ?? ""])}>
            Next page
          </button>
        )}
      </div>
    </section>
  );
}

export const tagText = (tags: Record<string, string>) =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

interface IssuerRow {
  name: string;
  provider: string;
  credentials?: { account_id?: string };
}

function Issuers({ vault }: { vault: string }) {
  const [issuers, reload] = useLoad(
    () => api<{ value: IssuerRow[] }>("GET", vaultApi(vault, "issuers")),
    `${vault}/issuers`,
  );
  const [form, setForm] = useState({ name: "", provider: "PrivateCA", account: "" });
  const { outcome, run } = useAction();
  const add = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await api("PUT", vaultApi(vault, "issuers", form.name.trim()), {
        provider: form.provider.trim(),
        ...(form.account.trim() && { credentials: { account_id: form.account.trim() } }),
      });
      reload();
      return `Issuer ${form.name.trim()} saved.`;
    });
  };
  const remove = (name: string) =>
    void run(async () => {
      await api("DELETE", vaultApi(vault, "issuers", name));
      reload();
      return `Issuer ${name} deleted.`;
    });
  return (
    <section aria-labelledby="issuers-heading">
      <h3 id="issuers-heading">Certificate issuers</h3>
      <LoadFailed load={issuers} />
      {issuers.state === "done" && issuers.value.value.length === 0 && <p>None besides Self and Unknown.</p>}
      {issuers.state === "done" && issuers.value.value.length > 0 && (
        <ul id="issuers">
          {issuers.value.value.map((i) => (
            <li key={i.name}>
              {i.name} ({i.provider}
              {i.credentials?.account_id ? `, account ${i.credentials.account_id}` : ""}){" "}
              <button type="button" onClick={() => remove(i.name)}>
                Delete issuer {i.name}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="filters" aria-labelledby="add-issuer-heading" onSubmit={add}>
        <h4 id="add-issuer-heading">Add or replace an issuer</h4>
        <label>
          Issuer name
          <input
            required
            autocomplete="off"
            value={form.name}
            onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
          />
        </label>
        <label>
          Provider
          <input
            required
            autocomplete="off"
            value={form.provider}
            onInput={(e) => setForm({ ...form, provider: e.currentTarget.value })}
          />
        </label>
        <label>
          Account (the CA's name for PrivateCA)
          <input
            autocomplete="off"
            value={form.account}
            onInput={(e) => setForm({ ...form, account: e.currentTarget.value })}
          />
        </label>
        <div class="row">
          <button type="submit">Save issuer</button>
          <Outcome inline id="issuer-outcome" text={outcome} />
        </div>
      </form>
    </section>
  );
}

interface Contact {
  email?: string;
  name?: string;
  phone?: string;
}

function Contacts({ vault }: { vault: string }) {
  const [contacts] = useLoad(
    () => api<{ contacts: Contact[] }>("GET", vaultApi(vault, "contacts")),
    `${vault}/contacts`,
  );
  return (
    <section aria-labelledby="contacts-heading">
      <h3 id="contacts-heading">Certificate contacts</h3>
      <p>Whom a lifetime action of type EmailContacts mails.</p>
      <LoadFailed load={contacts} />
      {contacts.state === "done" && (
        <ContactsForm
          vault={vault}
          key={JSON.stringify(contacts.value.contacts)}
          initial={contacts.value.contacts}
        />
      )}
    </section>
  );
}

/** One line per contact, `email, name, phone`, as a person would write them. */
function ContactsForm({ vault, initial }: { vault: string; initial: Contact[] }) {
  const [text, setText] = useState(
    initial
      .map((c) => [c.email ?? "", c.name ?? "", c.phone ?? ""].join(", ").replace(/(, )+$/, ""))
      .join("\n"),
  );
  const { outcome, run } = useAction();
  const save = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const contacts = text
        .split("\n")
        .map((line) => line.split(",").map((part) => part.trim()))
        .filter((parts) => parts.some((p) => p !== ""))
        .map(([email, name, phone]) => ({
          ...(email && { email }),
          ...(name && { name }),
          ...(phone && { phone }),
        }));
      await api("PUT", vaultApi(vault, "contacts"), { contacts });
      return `${contacts.length} contact${contacts.length === 1 ? "" : "s"} saved.`;
    });
  };
  return (
    <form onSubmit={save}>
      <label for="contacts-text">Contacts, one a line: e-mail, name, phone</label>
      <textarea id="contacts-text" rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      <div class="row">
        <button type="submit">Save contacts</button>
        <Outcome inline id="contacts-outcome" text={outcome} />
      </div>
    </form>
  );
}

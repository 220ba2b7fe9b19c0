import { ApiError, api } from "./api.js";
import { el } from "./dom.js";

interface VaultView {
  name: string;
  sku: string;
  softDeleteRetentionDays: number;
  purgeProtection: boolean;
  createdAt: string;
}

function vaultTable(vaults: VaultView[]): HTMLTableElement {
  const head = el(
    "thead",
    {},
    el(
      "tr",
      {},
      ...["Name", "SKU", "Soft-delete days", "Purge protection", "Created"].map((h) =>
        el("th", { scope: "col" }, h),
      ),
    ),
  );
  const rows = vaults.map((v) =>
    el(
      "tr",
      {},
      el("td", {}, v.name),
      el("td", {}, v.sku),
      el("td", {}, String(v.softDeleteRetentionDays)),
      el("td", {}, v.purgeProtection ? "on" : "off"),
      el("td", {}, new Date(v.createdAt).toLocaleString()),
    ),
  );
  return el("table", { id: "vaults" }, el("caption", {}, "Vaults"), head, el("tbody", {}, ...rows));
}

/** The vaults of the installation and a form to create one, as the signed-in user may. */
export async function vaultsPage(main: HTMLElement): Promise<void> {
  const heading = el("h2", {}, "Vaults");
  const list = el("div", {});
  const outcome = el("p", { id: "vault-outcome", role: "status" });
  const nameInput = el("input", { id: "vault-name", name: "name", required: "", autocomplete: "off" });
  const form = el(
    "form",
    { id: "create-vault", "aria-labelledby": "create-vault-heading" },
    el("h3", { id: "create-vault-heading" }, "Create a vault"),
    el("label", { for: "vault-name" }, "Vault name"),
    nameInput,
    el("button", { type: "submit" }, "Create vault"),
  );
  main.replaceChildren(heading, list, form, outcome);

  const load = async () => {
    try {
      const { value } = await api<{ value: VaultView[] }>("GET", "/admin/vaults");
      list.replaceChildren(vaultTable(value));
    } catch (error) {
      list.replaceChildren(el("p", { role: "alert" }, (error as Error).message));
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    outcome.textContent = "";
    void (async () => {
      try {
        await api("POST", "/admin/vaults", { name });
        outcome.textContent = `Vault ${name} created.`;
        nameInput.value = "";
        await load();
      } catch (error) {
        const refused = error instanceof ApiError && error.status === 403;
        outcome.textContent = `${refused ? "Refused" : "Failed"}: ${(error as Error).message}`;
      }
    })();
  });
  await load();
}

import { useState } from "preact/hooks";
import { api, outcomeOf } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { TextField } from "../components/form-fields.js";
import { LoadFailed, Outcome } from "../components/status-lines.js";
import { utc } from "../format.js";
import { Link } from "../router.js";
import { useLoad } from "../use-load.js";

interface VaultView {
  name: string;
  sku: string;
  softDeleteRetentionDays: number;
  purgeProtection: boolean;
  createdAt: string;
}

/** The vaults of the installation, each linking to its objects, and a form to create one. */
export default function VaultsPage() {
  const [vaults, reload] = useLoad(() => api<{ value: VaultView[] }>("GET", "/admin/vaults"), "vaults");
  const [name, setName] = useState("");
  const [outcome, setOutcome] = useState("");

  const create = async (event: Event) => {
    event.preventDefault();
    const wanted = name.trim();
    setOutcome("");
    try {
      await api("POST", "/admin/vaults", { name: wanted });
      setOutcome(`Vault ${wanted} created.`);
      setName("");
      reload();
    } catch (error) {
      setOutcome(outcomeOf(error));
    }
  };

  return (
    <>
      <h2>Vaults</h2>
      <LoadFailed load={vaults} />
      {vaults.state === "done" && (
        <DataTable
          id="vaults"
          caption="Vaults"
          visibleCaption
          headers={["Name", "SKU", "Soft-delete days", "Purge protection", "Created"]}
        >
          {vaults.value.value.map((v) => (
            <tr key={v.name}>
              <td>
                <Link href={`/ui/vaults/${encodeURIComponent(v.name)}`}>{v.name}</Link>
              </td>
              <td>{v.sku}</td>
              <td>{v.softDeleteRetentionDays}</td>
              <td>{v.purgeProtection ? "on" : "off"}</td>
              <td>{utc(v.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <form id="create-vault" aria-labelledby="create-vault-heading" onSubmit={create}>
        <h3 id="create-vault-heading">Create a vault</h3>
        <TextField id="vault-name" label="Vault name" name="name" required value={name} onValue={setName} />
        <button type="submit">Create vault</button>
      </form>
      <Outcome id="vault-outcome" text={outcome} />
    </>
  );
}

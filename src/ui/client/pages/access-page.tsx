import { useState } from "preact/hooks";
import type { assignmentView, principalView, roleView } from "../../../http/admin/access-admin-routes.js";
import { api } from "../api.js";
import { DataTable } from "../components/data-table.js";
import { SelectField, TextField } from "../components/form-fields.js";
import { Outcome } from "../components/status-lines.js";
import { useAction } from "../components/use-action.js";
import { utc } from "../format.js";
import { useLoad } from "../use-load.js";

type PrincipalView = ReturnType<typeof principalView>;
type RoleView = ReturnType<typeof roleView>;
type AssignmentView = ReturnType<typeof assignmentView>;

interface Directory {
  principals: PrincipalView[];
  roles: RoleView[];
  assignments: AssignmentView[];
}

const load = async (): Promise<Directory> => {
  const [principals, roles, assignments] = await Promise.all([
    api<{ value: PrincipalView[] }>("GET", "/admin/principals"),
    api<{ value: RoleView[] }>("GET", "/admin/roles"),
    api<{ value: AssignmentView[] }>("GET", "/admin/roleassignments"),
  ]);
  return { principals: principals.value, roles: roles.value, assignments: assignments.value };
};

/** Principals, roles and role assignments; assigning a role at a scope and removing an assignment. */
export default function AccessPage() {
  const [directory, reload] = useLoad(load, "access");
  const { outcome, busy, run } = useAction();

  if (directory.state === "loading") return <p role="status">Loading access…</p>;
  if (directory.state === "failed")
    return (
      <>
        <h2>Access</h2>
        <p role="alert">{directory.message}</p>
      </>
    );
  const { principals, roles, assignments } = directory.value;
  const principalName = (id: string) => principals.find((p) => p.id === id)?.displayName ?? id;
  const roleName = (id: string) => roles.find((r) => r.id === id)?.roleName ?? id;

  const unassign = (a: AssignmentView) =>
    run(async () => {
      await api("DELETE", `/admin/roleassignments/${encodeURIComponent(a.id)}`);
      reload();
      return `Removed ${roleName(a.roleDefinitionId)} at ${a.scope} from ${principalName(a.principalId)}.`;
    });

  return (
    <>
      <h2>Access</h2>
      <Assign principals={principals} roles={roles} onAssigned={reload} />
      <section aria-labelledby="assignments-heading">
        <h3 id="assignments-heading">Role assignments</h3>
        <Outcome id="assignment-outcome" text={outcome} />
        <DataTable
          id="assignments"
          caption="Role assignments"
          headers={["Principal", "Role", "Scope", "Since", "Actions"]}
        >
          {assignments.map((a) => (
            <tr key={a.id}>
              <td class="wrap">{principalName(a.principalId)}</td>
              <td>{roleName(a.roleDefinitionId)}</td>
              <td class="wrap">{a.scope}</td>
              <td>{utc(a.createdAt)}</td>
              <td>
                <button
                  type="button"
                  disabled={busy}
                  aria-label={`Remove ${roleName(a.roleDefinitionId)} at ${a.scope} from ${principalName(a.principalId)}`}
                  onClick={() => void unassign(a)}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      </section>
      <section aria-labelledby="principals-heading">
        <h3 id="principals-heading">Principals</h3>
        <DataTable
          id="principals"
          caption="Principals"
          headers={["Name", "Kind", "Client id", "Enabled", "Created"]}
        >
          {principals.map((p) => (
            <tr key={p.id}>
              <td class="wrap">{p.displayName}</td>
              <td>{p.kind}</td>
              <td class="wrap">{p.clientId}</td>
              <td>{p.enabled ? "yes" : "no"}</td>
              <td>{utc(p.createdAt)}</td>
            </tr>
          ))}
        </DataTable>
      </section>
      <section aria-labelledby="roles-heading">
        <h3 id="roles-heading">Roles</h3>
        <DataTable id="roles" caption="Roles" headers={["Role", "Type", "Description"]}>
          {roles.map((r) => (
            <tr key={r.id}>
              <td>{r.roleName}</td>
              <td>{r.roleType === "BuiltInRole" ? "built-in" : "custom"}</td>
              <td class="wrap">{r.description ?? ""}</td>
            </tr>
          ))}
        </DataTable>
      </section>
    </>
  );
}

function Assign(props: { principals: PrincipalView[]; roles: RoleView[]; onAssigned: () => void }) {
  const [principalId, setPrincipalId] = useState(props.principals[0]?.id ?? "");
  const [role, setRole] = useState(props.roles[0]?.roleName ?? "");
  const [scope, setScope] = useState("/");
  const { outcome, busy, run } = useAction();

  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await api("POST", "/admin/roleassignments", { principalId, role, scope: scope.trim() });
      props.onAssigned();
      const name = props.principals.find((p) => p.id === principalId)?.displayName ?? principalId;
      return `Assigned ${role} at ${scope.trim()} to ${name}.`;
    });
  };

  return (
    <form class="stack" id="assign-role" aria-labelledby="assign-heading" onSubmit={submit}>
      <h3 id="assign-heading">Assign a role</h3>
      <SelectField
        id="assign-principal"
        label="Principal"
        value={principalId}
        options={props.principals.map((p) => ({ value: p.id, text: `${p.displayName} (${p.kind})` }))}
        onValue={setPrincipalId}
      />
      <SelectField
        id="assign-role-name"
        label="Role"
        value={role}
        options={props.roles.map((r) => r.roleName)}
        onValue={setRole}
      />
      <TextField
        id="assign-scope"
        label="Scope (/ for the installation, /vaults/NAME for a vault)"
        required
        value={scope}
        onValue={setScope}
      />
      <button type="submit" disabled={busy}>
        Assign role
      </button>
      <Outcome id="assign-outcome" text={outcome} />
    </form>
  );
}

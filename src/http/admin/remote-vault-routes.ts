import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { RemoteVault, RemoteVaultSync } from "../../domain/remote-vaults/model.js";
import type { RemoteVaultService } from "../../domain/remote-vaults/remote-vault-service.js";

const Fields = Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.String({ maxLength: 16384 }));
const RemoteVaultBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    kind: Type.String({ minLength: 1 }),
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    settings: Type.Optional(Fields),
    secret: Type.Optional(Fields),
  },
  { additionalProperties: false },
);

const syncView = (s: RemoteVaultSync) => ({
  at: s.at.toISOString(),
  status: s.status,
  ...(s.error !== undefined && { error: s.error }),
  certificates: s.certificates,
  gone: s.gone,
});

/** A remote vault as the API shows it: the names of its secret fields, never their values. */
export const remoteVaultView = (v: RemoteVault) => ({
  name: v.name,
  kind: v.kind,
  url: v.url,
  settings: v.settings,
  secretFields: v.secretFields,
  createdAt: v.createdAt.toISOString(),
  lastSync: v.lastSync ? syncView(v.lastSync) : null,
});

/**
 * Remote vaults read into the inventory: `/admin/discovery/remote-vaults`. Registered inside the
 * admin scope (its auth hook and Key Vault's error format).
 */
export function registerRemoteVaultRoutes(
  admin: FastifyInstance,
  { remoteVaults }: { remoteVaults: RemoteVaultService },
): void {
  const base = "/admin/discovery/remote-vaults";
  admin.get(base, { config: { operation: "RemoteVaultList" } }, async () => ({
    value: (await remoteVaults.list()).map(remoteVaultView),
  }));
  admin.post<{ Body: Static<typeof RemoteVaultBody> }>(
    base,
    { schema: { body: RemoteVaultBody }, config: { operation: "RemoteVaultAdd" } },
    async (request, reply) => reply.status(201).send(remoteVaultView(await remoteVaults.add(request.body))),
  );
  admin.get<{ Params: { name: string } }>(
    `${base}/:name`,
    { config: { operation: "RemoteVaultGet" } },
    async (request) => remoteVaultView(await remoteVaults.get(request.params.name)),
  );
  admin.post<{ Params: { name: string } }>(
    `${base}/:name/sync`,
    { config: { operation: "RemoteVaultSync" } },
    async (request) => {
      const { name, sync } = await remoteVaults.sync(request.params.name);
      return { name, ...syncView(sync) };
    },
  );
  admin.delete<{ Params: { name: string } }>(
    `${base}/:name`,
    { config: { operation: "RemoteVaultRemove" } },
    async (request, reply) => {
      await remoteVaults.remove(request.params.name);
      return reply.status(204).send();
    },
  );
}

import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { PushTarget } from "../../domain/deployments/model.js";
import type { PushTargetService } from "../../domain/deployments/push-target-service.js";
import { deploymentStatusView } from "./discovery-wire.js";

const PushTargetBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    vault: Type.Optional(Type.String({ minLength: 1, maxLength: 127 })),
    certificate: Type.String({ minLength: 1, maxLength: 127 }),
    remoteVault: Type.String({ minLength: 1, maxLength: 63 }),
    targetCertificate: Type.Optional(Type.String({ minLength: 1, maxLength: 127 })),
  },
  { additionalProperties: false },
);

/** A push target and where its delivery stands. */
export const pushTargetView = (t: PushTarget) => ({
  id: t.id,
  name: t.name,
  vault: t.vaultName,
  certificate: t.certificate,
  remoteVault: t.remoteVaultName,
  targetCertificate: t.targetCertificate,
  ...deploymentStatusView(t),
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});

/**
 * Push targets under `/admin/push-targets`: a vault certificate's new versions imported into a
 * remote vault. Registered inside the admin scope (its auth hook and Key Vault's error format).
 */
export function registerPushTargetRoutes(
  admin: FastifyInstance,
  { pushTargets }: { pushTargets: PushTargetService },
): void {
  const base = "/admin/push-targets";
  admin.get(base, { config: { operation: "PushTargetList" } }, async () => ({
    value: (await pushTargets.list()).map(pushTargetView),
  }));
  admin.post<{ Body: Static<typeof PushTargetBody> }>(
    base,
    { schema: { body: PushTargetBody }, config: { operation: "PushTargetCreate" } },
    async (request, reply) => reply.status(201).send(pushTargetView(await pushTargets.create(request.body))),
  );
  admin.get<{ Params: { name: string } }>(
    `${base}/:name`,
    { config: { operation: "PushTargetGet" } },
    async (request) => pushTargetView(await pushTargets.get(request.params.name)),
  );
  admin.delete<{ Params: { name: string } }>(
    `${base}/:name`,
    { config: { operation: "PushTargetDelete" } },
    async (request, reply) => {
      await pushTargets.remove(request.params.name);
      return reply.status(204).send();
    },
  );
}

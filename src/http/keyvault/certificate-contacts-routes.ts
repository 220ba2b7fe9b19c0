import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { DataActions } from "../../domain/access/data-actions.js";
import type { ContactsService } from "../../domain/certificates/contacts-service.js";
import { vaultOf } from "../request-context.js";
import { contactsWire } from "./certificate-wire.js";
import { vaultWideConfig } from "./route-access.js";

/** Whom EmailContacts mails: people, not a mailing list's worth. */
export const MAX_CONTACTS = 50;

export const ContactsBody = Type.Object({
  contacts: Type.Array(
    Type.Object({
      email: Type.Optional(Type.String()),
      name: Type.Optional(Type.String()),
      phone: Type.Optional(Type.String()),
    }),
    { maxItems: MAX_CONTACTS },
  ),
});

/** Key Vault certificate contacts (keyvault-api.md §2 Certificates: contacts). */
export function registerCertificateContactsRoutes(app: FastifyInstance, contacts: ContactsService): void {
  app.get(
    "/certificates/contacts",
    {
      config: vaultWideConfig(
        "CertificateContactsGet",
        DataActions.certificateContactsWrite,
        "managecontacts",
      ),
    },
    async (request) => {
      const ctx = vaultOf(request);
      return contactsWire(ctx, await contacts.get(ctx.vault));
    },
  );

  app.put<{ Body: Static<typeof ContactsBody> }>(
    "/certificates/contacts",
    {
      schema: { body: ContactsBody },
      config: vaultWideConfig(
        "CertificateContactsSet",
        DataActions.certificateContactsWrite,
        "managecontacts",
      ),
    },
    async (request) => {
      const ctx = vaultOf(request);
      return contactsWire(ctx, await contacts.set(ctx.vault, request.body.contacts));
    },
  );

  app.delete(
    "/certificates/contacts",
    {
      config: vaultWideConfig(
        "CertificateContactsDelete",
        DataActions.certificateContactsWrite,
        "managecontacts",
      ),
    },
    async (request) => {
      const ctx = vaultOf(request);
      return contactsWire(ctx, await contacts.remove(ctx.vault));
    },
  );
}

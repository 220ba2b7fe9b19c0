import { badParameter, DomainError } from "../errors.js";
import type { Vault } from "../vaults/model.js";
import type { Contact } from "./model.js";
import type { CertificateStore } from "./ports.js";

export interface ContactsServiceDeps {
  store: Pick<CertificateStore, "getContacts" | "putContacts">;
}

export type ContactsService = ReturnType<typeof createContactsService>;

/** A vault's certificate contacts (Key Vault's `/certificates/contacts`), whom EmailContacts mails. */
export function createContactsService({ store }: ContactsServiceDeps) {
  async function get(vault: Vault): Promise<Contact[]> {
    const contacts = await store.getContacts(vault.id);
    if (!contacts) throw new DomainError("NotFound", "Contacts not found", { reason: "ContactsNotFound" });
    return contacts;
  }

  return {
    get,

    async set(vault: Vault, contacts: Contact[]): Promise<Contact[]> {
      for (const c of contacts) {
        if (!c.email && !c.name && !c.phone)
          throw badParameter("Each contact needs an email, a name or a phone");
        if (c.email && !/^[^@\s]+@[^@\s]+$/.test(c.email))
          throw badParameter(`"${c.email}" is not an e-mail address`);
      }
      await store.putContacts(vault.id, contacts);
      return contacts;
    },

    async remove(vault: Vault): Promise<Contact[]> {
      const contacts = await get(vault);
      await store.putContacts(vault.id, undefined);
      return contacts;
    },
  };
}

import type { DataAction, PolicyCollection, RouteAccess } from "../../domain/access/data-actions.js";

/**
 * Route config for one collection's routes: the audited operation name, the collection (for the
 * object id and the object scope) and what the access hook must find granted.
 */
export function routeConfig<C extends PolicyCollection>(collection: C) {
  return (operation: string, dataAction: DataAction, permission: string) => ({
    operation,
    collection,
    access: { dataAction, permission: `${collection}/${permission}` } satisfies RouteAccess,
  });
}

/** Route config for vault-wide certificate settings (issuers, contacts): no object scope. */
export const vaultWideConfig = (operation: string, dataAction: DataAction, permission?: string) => ({
  operation,
  access: {
    dataAction,
    permission: permission === undefined ? undefined : `certificates/${permission}`,
  } satisfies RouteAccess,
});

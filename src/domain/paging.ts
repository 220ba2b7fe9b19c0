/** One page of a listing; `next` is an opaque continuation for the following page, absent at the end. */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface PageRequest {
  after?: string;
  limit: number;
}

/** Key Vault's maxresults: 1 to 25, 25 when absent. */
export const MAX_PAGE_SIZE = 25;

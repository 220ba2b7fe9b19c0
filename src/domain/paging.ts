import { badParameter } from "./errors.js";

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

/** The page size a `maxresults` asks for; BadParameter outside 1 to 25. */
export function pageLimit(maxResults: number | undefined): number {
  if (
    maxResults !== undefined &&
    (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_PAGE_SIZE)
  ) {
    throw badParameter(`maxresults must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return maxResults ?? MAX_PAGE_SIZE;
}

/** A refusal or failure of the admin API, with the message the server gave. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The session's anti-forgery token, which the server put in the page for the scripts' writes. */
function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
}

/**
 * Calls the admin API as the signed-in user: the session cookie goes along by itself, and every
 * write carries the CSRF token. Errors come back in Key Vault's shape; their message is shown.
 */
export async function api<T>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-csrf-token"] = csrfToken();
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  if (response.status === 401) {
    // The session ended (idle, signed out elsewhere): back to the sign-in form.
    window.location.assign("/ui/sign-in");
  }
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const message =
      (parsed as { error?: { message?: string } } | undefined)?.error?.message ??
      `The server answered ${response.status}.`;
    throw new ApiError(response.status, message);
  }
  return parsed as T;
}

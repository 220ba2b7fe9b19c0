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

/** Who is signed in, as the server named them in the page. */
export function signedInUser(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="username"]')?.content ?? "";
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Calls the admin API as the signed-in user: the session cookie goes along by itself, and every
 * write carries the CSRF token. A refusal becomes an ApiError with the server's message.
 */
async function send(method: Method, path: string, body: unknown, accept: string): Promise<Response> {
  const headers: Record<string, string> = { accept };
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
  if (!response.ok) {
    const text = await response.text();
    let message = `The server answered ${response.status}.`;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // Not Key Vault's error shape: the status says enough.
    }
    throw new ApiError(response.status, message);
  }
  return response;
}

/** A JSON call of the admin API; errors come back in Key Vault's shape and their message is thrown. */
export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const text = await (await send(method, path, body, "application/json")).text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** "Refused: …" for a 403, "Failed: …" for anything else: what a write's outcome line says. */
export function outcomeOf(error: unknown): string {
  const refused = error instanceof ApiError && error.status === 403;
  return `${refused ? "Refused" : "Failed"}: ${(error as Error).message}`;
}

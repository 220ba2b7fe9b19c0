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

async function json<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const text = await (await send(method, path, body, "application/json")).text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Reads asked for ahead of the page that shows them, by path, each taken once. An answer older
 * than AHEAD_MS is not taken: the page then asks again rather than show what may have changed.
 */
const ahead = new Map<string, { answer: Promise<unknown>; at: number }>();
const AHEAD_MS = 5_000;

/**
 * Answers that came with the page, by path: the server read them for the markup it rendered, so
 * the first render in the browser shows the same rows without asking again.
 */
const seeds = new Map<string, unknown>();

/** Records answers the page came with (or, on the server, the ones it renders with). */
export function seed(answers: Record<string, unknown>): void {
  seeds.clear();
  for (const [path, value] of Object.entries(answers)) seeds.set(path, value);
}

/** The answer to `path` the page came with, taken once; later renders ask the server. */
export function takeSeed<T>(path: string): T | undefined {
  const value = seeds.get(path) as T | undefined;
  seeds.delete(path);
  return value;
}

/**
 * Starts a read now, at the click or submit that leads to the page which will ask for it: the
 * request then overlaps the page's chunk and its render instead of following them.
 */
export function readAhead(path: string): void {
  const now = performance.now();
  for (const [key, { at }] of ahead) if (now - at > AHEAD_MS) ahead.delete(key);
  if (ahead.has(path) || seeds.has(path)) return;
  const answer = json("GET", path);
  // A failure is reported to the page that takes the answer; one that nobody takes is not news.
  answer.catch(() => undefined);
  ahead.set(path, { answer, at: now });
}

/** A JSON call of the admin API; errors come back in Key Vault's shape and their message is thrown. */
export function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
  if (method === "GET") {
    const early = ahead.get(path);
    ahead.delete(path);
    if (early && performance.now() - early.at <= AHEAD_MS) return early.answer as Promise<T>;
  }
  return json<T>(method, path, body);
}

/** "Refused: …" for a 403, "Failed: …" for anything else: what a write's outcome line says. */
export function outcomeOf(error: unknown): string {
  const refused = error instanceof ApiError && error.status === 403;
  return `${refused ? "Refused" : "Failed"}: ${(error as Error).message}`;
}

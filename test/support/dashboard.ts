import type { InProcess } from "./in-process.js";

export const SESSION_COOKIE = "__Host-strongroom-session";

/** What a dashboard sign-in answered: the status, where it sent the browser, and the session cookie. */
export interface SignInAnswer {
  statusCode: number;
  location: string | undefined;
  /** `name=value` of the session cookie set, ready for a Cookie header. */
  cookie: string | undefined;
  setCookie: string[];
  body: string;
}

const setCookies = (headers: Record<string, unknown>) => {
  const raw = headers["set-cookie"];
  return raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
};

/** Posts the sign-in form as a browser does, from `address`. */
export async function signInForm(
  server: InProcess,
  username: string,
  password: string,
  address = "127.0.0.1",
): Promise<SignInAnswer> {
  const res = await server.strongroom.app.inject({
    method: "POST",
    url: "/ui/sign-in",
    remoteAddress: address,
    headers: {
      host: `localhost:${server.strongroom.port}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    payload: new URLSearchParams({ username, password }).toString(),
  });
  const setCookie = setCookies(res.headers);
  const session = setCookie.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  return {
    statusCode: res.statusCode,
    location: res.headers.location as string | undefined,
    cookie: session?.split(";", 1)[0],
    setCookie,
    body: res.body,
  };
}

/** The CSRF token the dashboard page hands its scripts. */
export function csrfOf(page: string): string {
  const token = /<meta name="csrf-token" content="([^"]+)">/.exec(page)?.[1];
  if (!token) throw new Error("the page carries no CSRF token");
  return token;
}

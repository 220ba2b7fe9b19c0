/** What the delivery job needs from the network, so tests and other transports can stand in. */
export interface WebhookTransport {
  /** POSTs a body; resolves with the status and the response text, rejects on network errors. */
  post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }>;
  /** Sends OPTIONS (CloudEvents abuse protection); resolves with the status and response headers. */
  options(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Headers }>;
}

const TIMEOUT_MS = 30_000;

/** Node's fetch, with a timeout so a hung endpoint cannot stall deliveries. */
export function createFetchTransport(): WebhookTransport {
  return {
    async post(url, headers, body) {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: "manual",
      });
      return { status: res.status, text: await res.text() };
    },
    async options(url, headers) {
      const res = await fetch(url, {
        method: "OPTIONS",
        headers,
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: "manual",
      });
      await res.arrayBuffer();
      return { status: res.status, headers: res.headers };
    },
  };
}

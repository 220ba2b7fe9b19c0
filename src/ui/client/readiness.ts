/** One sentence on whether the server's database answers, as /readyz reports it. */
export async function readiness(fetcher: typeof fetch): Promise<string> {
  try {
    const response = await fetcher("/readyz", { headers: { accept: "application/json" } });
    return response.ok ? "Server ready." : "Server not ready: the database does not answer.";
  } catch {
    return "Server unreachable.";
  }
}

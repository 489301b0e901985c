/** The workspace's calls to a lab's own API (`/api/labs/<slug>/…`): drafts, hints and the solution. */

export const labApi = (slug: string): string => `/api/labs/${encodeURIComponent(slug)}`;

/** The answer's JSON; a refusal becomes an Error carrying the server's own message, which the page shows. */
export async function readJson<T>(response: Response): Promise<T> {
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: string } | null;
    throw new Error(body?.error ?? `The server answered ${response.status}.`);
  }
  return (await response.json()) as T;
}

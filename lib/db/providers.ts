/** The two database providers Faultline supports, and how a DATABASE_URL picks one. */
export type Provider = "sqlite" | "postgres";

export function providerOf(databaseUrl: string): Provider {
  return databaseUrl.startsWith("file:") ? "sqlite" : "postgres";
}

/** SQLite file path from a `file:` URL (relative paths resolve against the working directory). */
export function sqlitePath(databaseUrl: string): string {
  return databaseUrl.slice("file:".length).replace(/^\/\/(?=\/)/, "");
}

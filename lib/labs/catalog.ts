import "server-only";
import path from "node:path";
import { env } from "../env.ts";
import { loadLabs, type LoadedLab } from "./loader.ts";

/**
 * The labs this server offers, from `labs/` at the project root. Production loads them once; in
 * development every call reloads, so an instructor editing lab.json sees the change (or the
 * LabError naming the file and the fix) on the next request without restarting.
 */
let cached: LoadedLab[] | undefined;

export function labsDir(): string {
  return path.join(process.cwd(), "labs");
}

export function labCatalog(): LoadedLab[] {
  if (env().NODE_ENV !== "production") return loadLabs(labsDir());
  cached ??= loadLabs(labsDir());
  return cached;
}

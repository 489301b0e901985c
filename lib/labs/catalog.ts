import "server-only";
import { env } from "../env.ts";
import { labsDirFor, loadLabs, type LoadedLab } from "./loader.ts";

/**
 * The labs this server offers: the course's own `labs/` folder, or the project's (labsDirFor). Production loads them once; in
 * development every call reloads, so an instructor editing lab.json sees the change (or the
 * LabError naming the file and the fix) on the next request without restarting.
 */
let cached: LoadedLab[] | undefined;

function labsDir(): string {
  return labsDirFor(env().courseDir);
}

export function labCatalog(): LoadedLab[] {
  if (env().NODE_ENV !== "production") return loadLabs(labsDir());
  cached ??= loadLabs(labsDir());
  return cached;
}

import { labCatalog } from "@/lib/labs/catalog";
import type { LoadedLab } from "@/lib/labs/loader";
import { findLab } from "@/lib/runs/submit";

/** The lab a route's `[lab]` names, by id or slug; a 404 with the reason otherwise. */
export async function labOf(params: Promise<{ lab: string }>): Promise<LoadedLab> {
  return findLab(labCatalog(), (await params).lab);
}

export type LabParams = { params: Promise<{ lab: string }> };

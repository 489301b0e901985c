import "server-only";
import { course } from "../content/index.ts";
import { labCatalog } from "../labs/catalog.ts";
import type { Catalog } from "./requirements.ts";

/** The course and labs this server offers, as the cohort modules need them. */
export const cohortCatalog = (): Catalog => ({ milestones: course().milestones, labs: labCatalog() });

import { route } from "@/app/api/_lib/route";
import { requireApiUser } from "@/lib/auth/session";
import { cohortCatalog } from "@/lib/cohorts/catalog";
import { checksCsv, gridCsv } from "@/lib/cohorts/csv";
import { classGrid } from "@/lib/cohorts/grid";
import { db } from "@/lib/db";
import { quizIndex } from "@/lib/progress/quiz-index";

export const dynamic = "force-dynamic";

/** The class grid (?kind=grid) or every learner's per-check results (?kind=checks) as CSV. */
export const GET = route<{ params: Promise<{ id: string }> }>(async (request, { params }) => {
  const user = await requireApiUser("instructor");
  const { id } = await params;
  const kind = new URL(request.url).searchParams.get("kind") ?? "grid";
  if (kind !== "grid" && kind !== "checks") return Response.json({ error: 'kind must be "grid" or "checks".' }, { status: 422 });
  const grid = await classGrid(db(), user, id, cohortCatalog(), quizIndex());
  const slug =
    grid.cohort.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "cohort";
  const date = new Date().toISOString().slice(0, 10);
  return new Response(kind === "grid" ? gridCsv(grid) : checksCsv(grid), {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${slug}-${kind}-${date}.csv"`,
      "cache-control": "no-store",
    },
  });
});

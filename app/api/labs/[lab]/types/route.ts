import { editorTypes } from "@/lib/labs/editor-types";
import { route } from "../../../_lib/route";
import { labOf, type LabParams } from "../_lab";

export const dynamic = "force-dynamic";

/**
 * `GET /api/labs/:lab/types?v=<hash>`: the extra libs for the workspace editor. Public, like the
 * starter. The page links it with the current hash, so a matching request is cached for good;
 * any other is revalidated by ETag.
 */
export const GET = route<LabParams>(async (request, { params }) => {
  await labOf(params);
  const types = editorTypes();
  const etag = `"${types.hash}"`;
  const pinned = new URL(request.url).searchParams.get("v") === types.hash;
  const headers = { etag, "cache-control": pinned ? "public, max-age=31536000, immutable" : "public, no-cache" };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  return Response.json({ hash: types.hash, libs: types.libs }, { headers });
});

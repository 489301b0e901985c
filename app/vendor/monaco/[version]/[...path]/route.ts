/**
 * Monaco's AMD build (node_modules/monaco-editor/min/vs), served from our own origin so the editor
 * never touches a CDN. Serving it from node_modules (rather than bundling the ESM build through
 * Next) keeps 25 MB of editor out of every build and works the same in `next dev` and `next start`;
 * only the workspace page's client code ever asks for it, so other pages pay nothing. The version
 * is in the URL, so every file is cached forever and an upgrade changes every URL.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { monacoMinDir, monacoVersion } from "@/lib/labs/monaco-assets";

const types: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".ttf": "font/ttf",
  ".json": "application/json",
};

const notFound = () => new Response("Not found", { status: 404, headers: { "content-type": "text/plain" } });

export async function GET(_request: Request, { params }: { params: Promise<{ version: string; path: string[] }> }) {
  const { version, path: parts } = await params;
  if (version !== monacoVersion()) return notFound();
  // Plain names only: no "..", no hidden files, so nothing outside min/vs can be named.
  if (parts[0] !== "vs" || parts.some((p) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(p) || p.includes(".."))) return notFound();
  const root = monacoMinDir();
  const file = path.join(root, ...parts);
  const type = types[path.extname(file)];
  if (!type || !file.startsWith(root + path.sep)) return notFound();
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) return notFound();
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: {
      "content-type": type,
      "content-length": String(info.size),
      "cache-control": "public, max-age=31536000, immutable",
      // Monaco creates its workers from blob: URLs that importScripts these files.
      "cross-origin-resource-policy": "same-origin",
    },
  });
}

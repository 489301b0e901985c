/**
 * Request bodies read with a cap that holds whatever the headers say: the bytes are counted as
 * they stream in and reading stops at the cap, so a chunked body (no Content-Length) never grows
 * past it in memory.
 */
import { RequestError } from "@/lib/errors";

/** The JSON APIs' cap: a lab's files are at most 400 kB (lib/runner/files.ts), so 1 MB is ample. @default 1000000 */
export const JSON_BODY_MAX_BYTES = 1_000_000;

export class BodyTooLargeError extends RequestError {
  override name = "BodyTooLargeError";
  constructor(readonly maxBytes: number) {
    super(413, `The request body is larger than ${Math.round(maxBytes / 1000)} kB, the most this endpoint accepts; send less.`);
  }
}

/**
 * The body's bytes, at most `maxBytes`; past that, it stops reading and throws BodyTooLargeError.
 * The rest of the upload is never read: the web server answers 413 and then closes the
 * connection without a reset (lib/launcher/linger.ts), which ends the upload.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  if (Number(request.headers.get("content-length")) > maxBytes) throw new BodyTooLargeError(maxBytes); // said so up front: read nothing
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.releaseLock();
      throw new BodyTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

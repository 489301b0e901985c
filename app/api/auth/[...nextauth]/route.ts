import NextAuth from "next-auth";
import { NextRequest } from "next/server";
import { authOptions } from "@/lib/auth/options";
import { readBody } from "../../_lib/body";
import { route } from "../../_lib/route";

const handler = NextAuth(authOptions);
type Context = { params: Promise<{ nextauth: string[] }> };

/** A sign-in form is a few hundred bytes. @default 16000 */
const AUTH_BODY_MAX_BYTES = 16_000;

export const GET = handler;

/**
 * next-auth reads a POST body whole with request.text() or .json(), however large; it gets the
 * body read here instead, counted while it streams and refused past the cap (413).
 */
export const POST = route<Context>(async (request, { params }) => {
  const body = await readBody(request, AUTH_BODY_MAX_BYTES);
  const capped = new NextRequest(request.url, { method: "POST", headers: request.headers, body: body.byteLength > 0 ? body : null });
  return (handler as (req: NextRequest, ctx: Context) => Promise<Response>)(capped, { params });
});

import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { log } from "../log.ts";
import { RateLimitedError } from "../redis/rate-limit.ts";
import { AccountError, authenticate } from "./accounts.ts";
import { accountDeps, clientIp } from "./deps.ts";

/**
 * next-auth v4. Sessions are signed JWT cookies, so any web replica that shares AUTH_SECRET
 * accepts them; the token carries only the user id, and the role is read from the database on
 * every request (lib/auth/session.ts), so a role change or a deleted account applies at once.
 */
export const authOptions: NextAuthOptions = {
  secret: process.env.AUTH_SECRET,
  session: { strategy: "jwt", maxAge: 30 * 24 * 60 * 60 },
  pages: { signIn: "/signin", error: "/signin" },
  providers: [
    CredentialsProvider({
      name: "Email and password",
      credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
      async authorize(credentials, req) {
        try {
          const user = await authenticate(accountDeps(), credentials, clientIp(req.headers));
          return { id: user.id, email: user.email, name: user.name };
        } catch (error) {
          // next-auth passes a thrown message to the sign-in form; anything unexpected stays generic.
          if (error instanceof AccountError || error instanceof RateLimitedError) throw new Error(error.message);
          log.error("sign-in failed", { err: error });
          throw new Error("Sign-in is unavailable right now. Try again in a minute.");
        }
      },
    }),
  ],
  callbacks: {
    jwt({ token, user }) {
      if (user) token.sub = user.id;
      return token;
    },
    session({ session, token }) {
      if (session.user && token.sub) (session.user as { id?: string }).id = token.sub;
      return session;
    },
  },
};

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // forbidden() renders app/forbidden.tsx with a real 403 instead of a blank page.
  // Server actions (our forms) get their bodies read by Next, which counts the bytes while they
  // stream and stops at this cap, Content-Length or not; the largest form (a reflection) is ~8 kB.
  experimental: { authInterrupts: true, serverActions: { bodySizeLimit: "1mb" } },
  // Native and server-only packages stay out of the bundle; they load from node_modules.
  serverExternalPackages: ["better-sqlite3", "@node-rs/argon2", "ioredis", "pg", "bullmq", "esbuild", "mdx-bundler", "shiki", "rehype-pretty-code"],
  // Every page's <title> goes in the first bytes of <head>, for every browser, not streamed in
  // after the body: a screen reader announces the page by it, and our metadata is a file read.
  htmlLimitedBots: /.*/,
  typescript: { ignoreBuildErrors: true }, // `npm run typecheck` owns type errors; the build need not repeat them.
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
          { key: "X-Frame-Options", value: "DENY" },
        ],
      },
    ];
  },
};

export default nextConfig;

import { defineConfig, devices } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 3210);
const baseURL = `http://localhost:${port}`;
// Chosen once, in the main process; the workers inherit it, so a spec can start a second web
// replica on the same Redis namespace (tests/e2e/hardening.spec.ts).
process.env.E2E_REDIS_PREFIX ??= `fl-e2e-${Date.now()}:`;

/**
 * End-to-end tests in the machine's Chromium (Playwright cannot download its own here). The app
 * is started by the same launcher as `npm start`, on a fresh data directory, so the first account
 * signed up in the run becomes admin.
 */
export default defineConfig({
  testDir: "tests/e2e",
  // Spec files run two at a time, each file's tests in order. Every spec signs up its own people,
  // so files do not share state, except that the first account of the fresh database becomes
  // admin: auth.spec.ts, which is about exactly that, runs first and alone (the "first" project),
  // with hardening.spec.ts, whose memory and connection counts must not see another spec's load.
  fullyParallel: false,
  workers: 2,
  retries: process.env.CI ? 1 : 0,
  reporter: process.env.CI ? [["list"]] : [["list"], ["html", { open: "never" }]],
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL,
    trace: "on-first-retry",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "first", testMatch: /(auth|hardening)\.spec\.ts$/, workers: 1, use: { ...devices["Desktop Chrome"], channel: undefined } },
    { name: "chromium", testIgnore: /(auth|hardening)\.spec\.ts$/, dependencies: ["first"], use: { ...devices["Desktop Chrome"], channel: undefined } },
  ],
  webServer: {
    command: "rm -rf .data/e2e && node --import tsx scripts/start.ts",
    url: `${baseURL}/api/ready`,
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      PORT: String(port),
      FAULTLINE_DATA_DIR: ".data/e2e",
      // Compiled lessons are keyed by content: reuse what the launcher tests (or npm start) compiled.
      FAULTLINE_CACHE_DIR: ".data/cache",
      FAULTLINE_REDIS_PREFIX: process.env.E2E_REDIS_PREFIX,
      FAULTLINE_URL: baseURL,
      FAULTLINE_AUTH: "accounts",
      // Every spec signs up its own people from one address; the limit itself is tested in
      // tests/integration/rate-limit.test.ts, not by running out of it here.
      RATE_LIMIT_SIGNUP_PER_IP: "1000",
      // Two spec files run at once and several start playground runs (up to a minute each): four
      // slots keep one spec's Run from waiting on another's. (Two once filled up for good: runs
      // cancelled while taking their pod played on; tests/integration/run-live-view.test.ts.)
      RUNNER_PLAYGROUND_CONCURRENCY: "4",
      // The real course plus a one-lab milestone, so a test can reach a pass mark and a certificate.
      FAULTLINE_COURSE_DIR: "tests/fixtures/course",
    },
  },
});

/**
 * The workspace editor in real Chromium: Monaco loads from our origin, IntelliSense knows ioredis
 * and the harness, type errors show as markers, tabs keep their undo history, read-only files stay
 * read-only, the theme follows the site, and everything is reachable by keyboard and passes axe.
 */
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { expectAccessible, setTheme, signUp, uniqueEmail } from "./support";

const editor = (page: Page) => page.locator("#code-editor-panel .monaco-editor").first();

/** The text of a lab file's model, straight from Monaco (the AMD build exposes `monaco`). */
async function modelText(page: Page, path: string): Promise<string> {
  return page.evaluate((p) => {
    const m = (globalThis as unknown as { monaco: { editor: { getModel(u: unknown): { getValue(): string } | null }; Uri: { parse(s: string): unknown } } })
      .monaco;
    return m.editor.getModel(m.Uri.parse(`file:///lab/${p}`))?.getValue() ?? "";
  }, path);
}

/** Puts the cursor on the first occurrence of `text` in the shown file, via the editor's API. */
async function cursorOn(page: Page, text: string) {
  await page.evaluate((t) => {
    type Ed = {
      getModel(): {
        findMatches(s: string, a: boolean, b: boolean, c: boolean, d: null, e: boolean): { range: { startLineNumber: number; startColumn: number } }[];
      };
      setPosition(p: unknown): void;
      focus(): void;
    };
    const m = (globalThis as unknown as { monaco: { editor: { getEditors(): Ed[] } } }).monaco;
    const ed = m.editor.getEditors()[0]!;
    const match = ed.getModel().findMatches(t, false, false, true, null, false)[0]!;
    ed.setPosition({ lineNumber: match.range.startLineNumber, column: match.range.startColumn + 1 });
    ed.focus();
  }, text);
}

/** Markers a given owner put on a lab file ("typescript" for the editor's checker, "faultline-build" for a run's build). */
async function markers(page: Page, owner: string, path: string): Promise<string[]> {
  return page.evaluate(
    ([o, p]) => {
      const m = (
        globalThis as unknown as {
          monaco: { editor: { getModelMarkers(f: { owner: string; resource: unknown }): { message: string }[] }; Uri: { parse(s: string): unknown } };
        }
      ).monaco;
      return m.editor.getModelMarkers({ owner: o!, resource: m.Uri.parse(`file:///lab/${p}`) }).map((x) => x.message);
    },
    [owner, path],
  );
}

async function openLab(page: Page, slug: string) {
  await page.goto(`/labs/${slug}`);
  await expect(editor(page)).toBeVisible({ timeout: 20_000 });
}

/** Puts the cursor at the end of the current file. */
async function toEnd(page: Page) {
  await editor(page).locator(".view-lines").click();
  await page.keyboard.press("Control+End");
}

test.describe("signed out", () => {
  test("sees the instructions and a read-only starter with a call to sign in", async ({ page }) => {
    await openLab(page, "priority-queue");
    await expect(page.getByRole("heading", { level: 1, name: "A priority queue on a sorted set" })).toBeVisible();
    await expect(page.getByRole("link", { name: "Sign in to run" })).toHaveAttribute("href", /\/signin\?callbackUrl=%2Flabs%2Fpriority-queue/);
    await expect(page.getByRole("button", { name: /^Run/ })).toHaveCount(0);
    const before = await modelText(page, "queue.ts");
    expect(before).toContain("createRedis");
    await toEnd(page);
    await page.keyboard.type("oops");
    expect(await modelText(page, "queue.ts")).toBe(before);
    await expectAccessible(page);
  });
});

test.describe("signed in", () => {
  test.describe.configure({ mode: "serial" });
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    // A context of our own (axe needs one), at the laptop size the workspace must fit.
    page = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
    await signUp(page, uniqueEmail("editor"), "Edna Editor");
    await expect(page.getByRole("banner").getByLabel(/^Account menu for/)).toBeVisible();
  });
  test.afterAll(async () => {
    await page.context().close();
  });

  test("IntelliSense offers ioredis methods and type errors show as markers", async () => {
    test.setTimeout(90_000);
    await openLab(page, "priority-queue");
    await toEnd(page);
    await page.keyboard.press("Enter");
    await page.keyboard.type("redis.zad");
    // The TypeScript worker and the type libraries arrive after the editor: ask until they have.
    const zadd = page.locator(".suggest-widget .monaco-list-row", { hasText: /^zadd/ }).first();
    await expect(async () => {
      await page.keyboard.press("Escape");
      await page.keyboard.press("Control+Space");
      await expect(zadd).toBeVisible({ timeout: 3_000 });
    }).toPass({ timeout: 60_000 });
    await page.keyboard.press("Escape");
    // The harness types resolve too: no error on the starter's import, and a wrong type is caught.
    await page.keyboard.press("Control+A");
    await page.keyboard.type(
      'import { createRedis } from "@faultline/lab";\nconst redis = createRedis();\nconst n: number = await redis.zcard("q");\nconst wrong: number = "not a number";\nexport { n, wrong };\n',
      { delay: 0 },
    );
    await expect(editor(page).locator(".squiggly-error")).toHaveCount(1, { timeout: 30_000 });
    await page.keyboard.press("Control+Z");
  });

  test("hover shows ioredis's docs and go-to-definition opens its declaration", async () => {
    test.setTimeout(60_000);
    await openLab(page, "priority-queue");
    await cursorOn(page, "ping()");
    await expect(async () => {
      await page.keyboard.press("Control+K");
      await page.keyboard.press("Control+I");
      await expect(page.locator(".monaco-hover").filter({ hasText: "Ping the server" })).toBeVisible({ timeout: 3_000 });
    }).toPass({ timeout: 40_000 });
    await page.keyboard.press("Escape");
    await cursorOn(page, "ping()");
    await page.keyboard.press("F12");
    const tabs = page.getByRole("tablist", { name: "Lab files" });
    await expect(tabs.getByRole("tab", { name: /RedisCommander\.d\.ts · library/ })).toHaveAttribute("aria-selected", "true");
    await expect(editor(page)).toContainText("ping(callback");
    await tabs.getByRole("button", { name: /^Close .*RedisCommander\.d\.ts$/ }).click();
    await expect(tabs.getByRole("tab", { name: "queue.ts" })).toHaveAttribute("aria-selected", "true");
  });

  test("build errors from a run show as markers on the file", async () => {
    test.setTimeout(60_000);
    await openLab(page, "priority-queue");
    await toEnd(page);
    await page.keyboard.type("\nconst broken = ;\n");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await expect.poll(() => markers(page, "faultline-build", "queue.ts"), { timeout: 40_000 }).toHaveLength(1);
    await page.keyboard.press("Control+Z");
  });

  test("saves as you type and keeps the draft across a reload", async () => {
    await openLab(page, "priority-queue");
    await toEnd(page);
    await page.keyboard.type("\n// kept across reloads\n");
    await expect(page.getByRole("status").filter({ hasText: /^(Saved|Saving…|Unsaved changes)$/ })).toHaveText("Saved", { timeout: 10_000 });
    await page.reload();
    await expect(editor(page)).toBeVisible({ timeout: 20_000 });
    await expect.poll(() => modelText(page, "queue.ts")).toContain("// kept across reloads");
  });

  test("tabs keep their undo history and read-only files cannot be edited", async () => {
    await openLab(page, "reliable-delivery");
    const tabs = page.getByRole("tablist", { name: "Lab files" });
    await expect(tabs.getByRole("tab")).toHaveText(["queue.ts", "handler.ts(read-only)"]);
    const original = await modelText(page, "queue.ts");
    await toEnd(page);
    await page.keyboard.type("\n// typed in queue.ts\n");
    expect(await modelText(page, "queue.ts")).toContain("// typed in queue.ts");

    await tabs.getByRole("tab", { name: /handler\.ts/ }).click();
    await expect(tabs.getByRole("tab", { name: /handler\.ts/ })).toHaveAttribute("aria-selected", "true");
    const handler = await modelText(page, "handler.ts");
    await toEnd(page);
    await page.keyboard.type("tampered");
    expect(await modelText(page, "handler.ts")).toBe(handler);
    await expect(page.getByText(/read-only; your code goes in the other files/).first()).toBeVisible();

    await tabs.getByRole("tab", { name: "queue.ts" }).click();
    await editor(page).locator(".view-lines").click();
    // Typing makes a few undo stops; undoing them all must lead back to the file as it was.
    for (let i = 0; i < 8 && (await modelText(page, "queue.ts")) !== original; i++) await page.keyboard.press("Control+Z");
    expect(await modelText(page, "queue.ts")).toBe(original);
  });

  test("Ctrl+Enter runs and Ctrl+Shift+Enter checks, from anywhere on the page", async () => {
    await openLab(page, "priority-queue");
    const modes: string[] = [];
    await page.route("**/api/runs", async (route) => {
      modes.push((route.request().postDataJSON() as { mode: string }).mode);
      await route.fulfill({ status: 429, json: { error: "Slow down: test." } });
    });
    await page.getByRole("heading", { level: 1 }).click();
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => modes).toEqual(["run"]);
    await toEnd(page);
    await page.keyboard.press("Control+Shift+Enter");
    await expect.poll(() => modes).toEqual(["run", "check"]);
    await page.unroute("**/api/runs");
  });

  test("the editor theme follows the site, and axe passes in light and dark", async () => {
    test.setTimeout(60_000);
    await openLab(page, "reliable-delivery");
    const background = () =>
      editor(page)
        .locator(".monaco-editor-background")
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor);
    await setTheme(page, "light");
    await expect.poll(background).toBe("rgb(255, 255, 255)");
    await expectAccessible(page);
    await setTheme(page, "dark");
    await expect.poll(background).toBe("rgb(11, 14, 20)");
    await expectAccessible(page);
    await setTheme(page, "light");
  });

  test("the keyboard reaches every control, and splitters resize and remember", async () => {
    await openLab(page, "reliable-delivery");
    const seen = new Set<string>();
    await page.locator("body").focus();
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press("Tab");
      const name = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el) return "";
        if (el.closest(".monaco-editor")) return "editor";
        return `${el.getAttribute("role") ?? el.tagName.toLowerCase()}:${el.getAttribute("aria-label") ?? el.textContent?.trim() ?? ""}`;
      });
      seen.add(name);
      // Monaco keeps Tab for indentation; Ctrl+M (announced in its Alt+F1 help) hands it back.
      if (name === "editor") await page.keyboard.press("Control+M");
    }
    const all = [...seen];
    for (const want of [
      /^separator:Resize instructions$/,
      /^button:▶ Run/,
      /^button:✓ Check/,
      /^button:Reset$/,
      /^tab:queue\.ts$/,
      /^editor$/,
      /^separator:Resize run results$/,
    ]) {
      expect(
        all.some((n) => want.test(n)),
        `${want} in ${all.join(" | ")}`,
      ).toBe(true);
    }

    const splitter = page.getByRole("separator", { name: "Resize instructions" });
    const before = Number(await splitter.getAttribute("aria-valuenow"));
    await splitter.focus();
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await expect(splitter).toHaveAttribute("aria-valuenow", String(before + 4));
    await page.reload();
    await expect(page.getByRole("separator", { name: "Resize instructions" })).toHaveAttribute("aria-valuenow", String(before + 4));
    await page.evaluate(() => localStorage.removeItem("faultline:workspace:panels"));
  });

  test("Compare with solution opens a diff of each file, and closes cleanly", async () => {
    // The comparison opens once the runner has stored a pass of this learner's: earn one.
    const solution = readFileSync("labs/resp-client/solution/resp.ts", "utf8");
    const run = await page.request.post("/api/runs", { data: { lab: "resp-client", mode: "check", files: { "resp.ts": solution } } });
    const { eventsUrl } = (await run.json()) as { eventsUrl: string };
    expect(await (await page.request.get(eventsUrl, { timeout: 30_000 })).text()).toContain('"type":"end","status":"pass"');
    await openLab(page, "resp-client");
    const compare = page.getByRole("button", { name: "Compare with solution" });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await compare.click();
    const dialog = page.getByRole("dialog", { name: "Your code and the reference solution" });
    await expect(dialog.locator(".monaco-diff-editor")).toBeVisible({ timeout: 20_000 });
    await expect(dialog.getByRole("tab", { name: /resp\.ts/ })).toHaveAttribute("aria-selected", "true");
    await expect(dialog.getByRole("tab")).toHaveCount(1); // the read-only parser-probe.ts is the lab's, not compared
    await expectAccessible(page);
    await page.keyboard.press("Escape");
    await expect(dialog).toBeHidden();
    await page.waitForTimeout(300);
    expect(errors).toEqual([]);
  });

  test("Reset asks first, then restores the starter (and Undo brings the code back)", async () => {
    await openLab(page, "priority-queue");
    await toEnd(page);
    await page.keyboard.type("\n// about to be reset\n");
    await page.getByRole("button", { name: "Reset" }).click();
    const dialog = page.getByRole("dialog", { name: "Reset to the starter?" });
    await expect(dialog).toBeVisible();
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toBeHidden();
    expect(await modelText(page, "queue.ts")).toContain("// about to be reset");
    await page.getByRole("button", { name: "Reset" }).click();
    await dialog.getByRole("button", { name: "Reset to starter" }).click();
    await expect.poll(() => modelText(page, "queue.ts")).not.toContain("// about to be reset");
    await expect(page.getByText(/Back to the starter/)).toBeVisible();
  });
});

import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { DraftAutosave, SAVE_DEBOUNCE_MS, SAVE_RETRY_MS, SAVE_TEXT, type DraftAutosaveOptions } from "./draft-autosave";

type Answer = Response | Error;

/** A draft whose server answers from `answers` in turn (200 once they run out), recording each request. */
function setup(answers: Answer[] = [], options: Partial<DraftAutosaveOptions> = {}) {
  const requests: { url: string; init: RequestInit | undefined; files: Record<string, string> | undefined }[] = [];
  const fetch = vi.fn<typeof globalThis.fetch>(async (input, init) => {
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as { files?: Record<string, string> }) : {};
    requests.push({ url: String(input), init, files: body.files });
    const answer = answers.shift() ?? Response.json({ version: requests.length });
    if (answer instanceof Error) throw answer;
    return answer;
  });
  const drafts = new DraftAutosave({
    api: "/api/labs/priority-queue",
    signedIn: true,
    editable: ["queue.ts"],
    initial: { "queue.ts": "// starter", "probe.ts": "// the lab's" },
    fetch,
    ...options,
  });
  return { drafts, requests, shown: () => SAVE_TEXT[drafts.getState().status] };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

test("an edit is saved once the learner pauses, sending only the latest text of the editable files", async () => {
  const t = setup();
  t.drafts.edit("queue.ts", "a");
  t.drafts.edit("queue.ts", "ab");
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS - 100);
  t.drafts.edit("queue.ts", "abc");
  expect(t.shown()).toBe("Unsaved changes");
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS - 1);
  expect(t.requests).toHaveLength(0);
  await vi.advanceTimersByTimeAsync(1);
  expect(t.requests).toHaveLength(1);
  expect(t.requests[0]).toMatchObject({ url: "/api/labs/priority-queue/draft", init: { method: "PUT" }, files: { "queue.ts": "abc" } });
  expect(t.shown()).toBe("Saved");
});

test("a read-only file, an unchanged file and a signed-out visitor's edits are never sent", async () => {
  const t = setup();
  t.drafts.edit("probe.ts", "changed");
  t.drafts.edit("queue.ts", "// starter");
  await vi.advanceTimersByTimeAsync(10_000);
  expect(t.requests).toHaveLength(0);
  expect(t.drafts.current["probe.ts"]).toBe("changed");

  const visitor = setup([], { signedIn: false });
  visitor.drafts.edit("queue.ts", "mine");
  await vi.advanceTimersByTimeAsync(10_000);
  await visitor.drafts.save();
  expect(visitor.requests).toHaveLength(0);
  expect(visitor.shown()).toBe("Saved");
});

test("a save the server refuses keeps the text, shows its reason, and is retried until it goes through", async () => {
  const t = setup([Response.json({ error: "Your draft is too large (256 KiB at most)." }, { status: 413 })]);
  t.drafts.edit("queue.ts", "big");
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS);
  expect(t.shown()).toBe("Offline — will retry");
  expect(t.drafts.getState().error).toBe("Your draft is too large (256 KiB at most).");
  expect(t.drafts.current["queue.ts"]).toBe("big");
  await vi.advanceTimersByTimeAsync(SAVE_RETRY_MS);
  expect(t.requests.map((r) => r.files)).toEqual([{ "queue.ts": "big" }, { "queue.ts": "big" }]);
  expect(t.drafts.getState()).toEqual({ status: "saved", error: null });
});

test("offline: the status says so until a save goes through, and typing on does not hide it", async () => {
  const t = setup([new TypeError("Failed to fetch"), new TypeError("Failed to fetch")]);
  t.drafts.edit("queue.ts", "one");
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS);
  expect(t.drafts.getState()).toEqual({ status: "offline", error: null });
  t.drafts.edit("queue.ts", "one two");
  expect(t.shown()).toBe("Offline — will retry");
  // The edit's own debounce replaces the retry timer: the latest text goes at once.
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS);
  expect(t.requests).toHaveLength(2);
  expect(t.shown()).toBe("Offline — will retry");
  // Back online: the browser's "online" event saves without waiting for the retry.
  await t.drafts.save();
  expect(t.requests.at(-1)?.files).toEqual({ "queue.ts": "one two" });
  expect(t.shown()).toBe("Saved");
});

test("text typed while a save is on its way is still unsaved afterwards, and is sent next", async () => {
  let answer: (r: Response) => void = () => {};
  const sent: unknown[] = [];
  const fetch = vi.fn<typeof globalThis.fetch>((_input, init) => {
    sent.push(JSON.parse(String(init?.body)));
    return sent.length === 1 ? new Promise<Response>((resolve) => (answer = resolve)) : Promise.resolve(Response.json({}));
  });
  const drafts = new DraftAutosave({ api: "/api/labs/x", signedIn: true, editable: ["queue.ts"], initial: { "queue.ts": "" }, fetch });
  drafts.edit("queue.ts", "first");
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS);
  expect(drafts.getState().status).toBe("saving");
  drafts.edit("queue.ts", "first second");
  answer(Response.json({}));
  await vi.advanceTimersByTimeAsync(0);
  expect(drafts.getState().status).toBe("pending");
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS);
  expect(sent).toEqual([{ files: { "queue.ts": "first" } }, { files: { "queue.ts": "first second" } }]);
  expect(drafts.getState().status).toBe("saved");
});

test("leaving the page sends unsaved text once, with keepalive so the request outlives the page", async () => {
  const t = setup();
  t.drafts.flush();
  expect(t.requests).toHaveLength(0);
  t.drafts.edit("queue.ts", "last words");
  t.drafts.flush();
  t.drafts.flush();
  expect(t.requests).toHaveLength(1);
  expect(t.requests[0]).toMatchObject({ init: { method: "PUT", keepalive: true }, files: { "queue.ts": "last words" } });
  // The debounced save that was still pending finds nothing left to send.
  await vi.advanceTimersByTimeAsync(SAVE_DEBOUNCE_MS);
  expect(t.requests).toHaveLength(1);
});

test("reset drops a pending save, puts the starter in the editor, and leaves nothing unsaved", async () => {
  const t = setup([Response.json({ files: { "queue.ts": "// starter" }, source: "starter" })]);
  t.drafts.edit("queue.ts", "// about to be reset");
  let shown: Record<string, string> = {};
  await t.drafts.reset((files) => {
    shown = files;
    // The editor reports the replaced text as an edit, as Monaco does.
    for (const [path, text] of Object.entries(files)) t.drafts.edit(path, text);
  });
  expect(t.requests.map((r) => `${r.init?.method} ${r.url}`)).toEqual(["POST /api/labs/priority-queue/draft/reset"]);
  expect(shown).toEqual({ "queue.ts": "// starter" });
  expect(t.drafts.editableFiles()).toEqual({ "queue.ts": "// starter" });
  expect(t.shown()).toBe("Saved");
  await vi.advanceTimersByTimeAsync(SAVE_RETRY_MS);
  expect(t.requests).toHaveLength(1);
});

test("a refused reset changes nothing and gives the server's reason", async () => {
  const t = setup([Response.json({ error: "Sign in to reset your code." }, { status: 401 })]);
  t.drafts.edit("queue.ts", "mine");
  const show = vi.fn();
  await expect(t.drafts.reset(show)).rejects.toThrow("Sign in to reset your code.");
  expect(show).not.toHaveBeenCalled();
  expect(t.drafts.editableFiles()).toEqual({ "queue.ts": "mine" });
  expect(t.shown()).toBe("Unsaved changes");
});

/**
 * The learner's draft, saved as they type, without React. The editor is the source of truth; the
 * server gets a debounced copy of the editable files, a failed save is retried until one goes
 * through, and leaving the page sends what is unsaved one last time. useDrafts wraps it; tests
 * drive it with a fake fetch and fake timers.
 */
import { readJson } from "./lab-api";

export type SaveStatus = "saved" | "pending" | "saving" | "offline";

export interface SaveState {
  status: SaveStatus;
  /** Why the server refused the last save; null when it went through or the network was down. */
  error: string | null;
}

export const SAVE_TEXT: Record<SaveStatus, string> = { saved: "Saved", pending: "Unsaved changes", saving: "Saving…", offline: "Offline — will retry" };
export const SAVE_DEBOUNCE_MS = 800;
export const SAVE_RETRY_MS = 5000;

export interface DraftAutosaveOptions {
  /** The lab's API root (labApi). */
  api: string;
  /** Signed out, the learner reads the starter: nothing is saved. */
  signedIn: boolean;
  /** The files the learner edits; only these are saved and run. */
  editable: readonly string[];
  /** Every file as the page opened with it: the learner's draft, or the starter. */
  initial: Record<string, string>;
  fetch?: typeof fetch;
}

type Files = Record<string, string>;

export class DraftAutosave {
  private o: Omit<DraftAutosaveOptions, "initial" | "fetch">;
  private readonly fetch: typeof fetch;
  private files: Files;
  /** Edited since the last save was sent. */
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private state: SaveState = { status: "saved", error: null };
  private readonly listeners = new Set<() => void>();

  constructor({ initial, fetch, ...options }: DraftAutosaveOptions) {
    this.o = options;
    this.files = initial;
    this.fetch = fetch ?? ((...args) => globalThis.fetch(...args));
  }

  /** The page's props may change under a mounted workspace; the text typed so far stays. */
  configure(options: Omit<DraftAutosaveOptions, "initial" | "fetch">): void {
    this.o = options;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): SaveState => this.state;

  /** Every file as the learner has it now, read-only ones included. */
  get current(): Files {
    return this.files;
  }

  /** The editable files as they are now: what a save sends and a run grades. */
  editableFiles(): Files {
    return this.pick(this.files);
  }

  /** The editor changed a file: save it once the learner pauses. */
  edit(path: string, value: string): void {
    if (this.files[path] === value) return;
    this.files = { ...this.files, [path]: value };
    if (!this.o.signedIn || !this.o.editable.includes(path)) return;
    this.dirty = true;
    // Offline stays offline until a save goes through: "unsaved" would hide that the last one failed.
    if (this.state.status !== "offline") this.set({ status: "pending" });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.save(), SAVE_DEBOUNCE_MS);
  }

  /** Sends the editable files now, if anything changed; on failure keeps them unsaved and tries again later. */
  async save(): Promise<void> {
    clearTimeout(this.timer);
    if (!this.o.signedIn || !this.dirty) return;
    this.dirty = false;
    this.set({ status: "saving" });
    try {
      await readJson(await this.fetch(`${this.o.api}/draft`, this.put(false)));
      // Typed into while the save was on its way: that text is still to be sent.
      this.set({ error: null, status: this.dirty ? "pending" : "saved" });
    } catch (error) {
      this.dirty = true;
      // A TypeError is the network, not the server: there is no reason to show beyond "offline".
      this.set({ status: "offline", error: error instanceof TypeError ? null : (error as Error).message });
      this.timer = setTimeout(() => void this.save(), SAVE_RETRY_MS);
    }
  }

  /** Leaving the page: one last save, sent so that it outlives the page. */
  flush(): void {
    if (!this.dirty || !this.o.signedIn) return;
    this.dirty = false;
    void this.fetch(`${this.o.api}/draft`, this.put(true));
  }

  /**
   * Puts the starter back: the server keeps the current code in the draft history. `show` puts the
   * starter's files into the editor, whose change reports then match and save nothing. Throws the
   * server's message if it refused.
   */
  async reset(show: (files: Files) => void): Promise<void> {
    clearTimeout(this.timer);
    const draft = await readJson<{ files: Files }>(await this.fetch(`${this.o.api}/draft/reset`, { method: "POST" }));
    show(this.pick(draft.files));
    this.files = { ...this.files, ...draft.files };
    this.dirty = false;
    this.set({ status: "saved" });
  }

  private pick(files: Files): Files {
    return Object.fromEntries(this.o.editable.map((p) => [p, files[p] ?? ""]));
  }

  private put(keepalive: boolean): RequestInit {
    return {
      method: "PUT",
      ...(keepalive ? { keepalive } : {}),
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ files: this.editableFiles() }),
    };
  }

  private set(change: Partial<SaveState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
  }
}

"use client";

import type { KeySnapshot } from "@/lib/runs/run-state";
import { formatTtl } from "./run-format";

type Zset = Extract<KeySnapshot, { type: "zset" }>;

const TYPE_BADGE: Record<KeySnapshot["type"], string> = {
  string: "bg-slate-200 text-slate-900 dark:bg-ink-700 dark:text-slate-100",
  list: "bg-sky-100 text-sky-900 dark:bg-sky-950 dark:text-sky-200",
  set: "bg-teal-100 text-teal-900 dark:bg-teal-950 dark:text-teal-200",
  zset: "bg-brand-100 text-brand-800 dark:bg-brand-800/40 dark:text-brand-100",
  hash: "bg-violet-100 text-violet-900 dark:bg-violet-950 dark:text-violet-200",
  stream: "bg-emerald-100 text-emerald-900 dark:bg-emerald-950 dark:text-emerald-200",
  other: "bg-slate-200 text-slate-900 dark:bg-ink-700 dark:text-slate-100",
};

const TYPE_NAME: Record<KeySnapshot["type"], string> = {
  string: "string",
  list: "list",
  set: "set",
  zset: "sorted set",
  hash: "hash",
  stream: "stream",
  other: "other type",
};

const chip = "max-w-full truncate rounded border px-1.5 py-0.5 font-mono text-xs";
const chipPlain = "border-slate-300 bg-white text-slate-900 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100";
const chipNew = "border-brand-600 bg-brand-50 text-slate-900 dark:border-brand-400 dark:bg-brand-800/30 dark:text-white";

const HIGH = 2 ** 32;

/** Scores like priority × 2^32 + sequence read better split: "2·2³² + 17". */
export function formatScore(score: number): string {
  if (Number.isInteger(score) && score >= HIGH && score < Number.MAX_SAFE_INTEGER) return `${Math.floor(score / HIGH)}·2³² + ${score % HIGH}`;
  return Number.isInteger(score) ? String(score) : String(Number(score.toPrecision(6)));
}

/**
 * Lanes for a sorted set: one per distinct score when members share a few; one per high word when the
 * scores pack a priority above 2^32; otherwise a single lane in score order.
 */
export function zsetLanes(members: Zset["members"]): { label: string; members: Zset["members"]; short?: (score: number) => string }[] {
  const sorted = [...members].sort((a, b) => a.score - b.score);
  if (sorted.length === 0) return [];
  const group = (keyOf: (score: number) => number, label: (k: number) => string) => {
    const lanes = new Map<number, Zset["members"]>();
    for (const m of sorted) lanes.set(keyOf(m.score), [...(lanes.get(keyOf(m.score)) ?? []), m]);
    return lanes.size <= 8 ? [...lanes].map(([k, ms]) => ({ label: label(k), members: ms })) : null;
  };
  const distinct = new Set(sorted.map((m) => m.score)).size;
  // Grouping by score only says something when members share scores.
  if (distinct > 1 && distinct <= 8 && distinct < sorted.length)
    return group(
      (s) => s,
      (k) => `score ${formatScore(k)}`,
    )!;
  if (sorted.every((m) => Number.isInteger(m.score) && m.score >= 0) && sorted.at(-1)!.score >= HIGH) {
    const lanes = group(
      (s) => Math.floor(s / HIGH),
      (k) => `score ÷ 2³² = ${k}`,
    );
    // Within a lane the high word is the lane's: show the low word only.
    if (lanes && lanes.length > 1) return lanes.map((lane) => ({ ...lane, short: (score: number) => `+${score % HIGH}` }));
  }
  return [{ label: distinct === 1 ? `score ${formatScore(sorted[0]!.score)}` : "lowest score first", members: sorted }];
}

function More({ shown, length, noun }: { shown: number; length: number; noun: string }) {
  if (length <= shown) return null;
  return (
    <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">
      First {shown} of {length.toLocaleString("en")} {noun} shown.
    </p>
  );
}

function Body({ snap, prev }: { snap: KeySnapshot; prev?: KeySnapshot }) {
  switch (snap.type) {
    case "string":
      return (
        <pre className="whitespace-pre-wrap break-all rounded bg-slate-50 px-2 py-1 font-mono text-xs text-slate-900 dark:bg-ink-900 dark:text-slate-100">
          {snap.value === "" ? "(empty string)" : snap.value}
        </pre>
      );
    case "zset": {
      const before = new Set(prev?.type === "zset" ? prev.members.map((m) => m.member) : []);
      const lanes = zsetLanes(snap.members);
      return (
        <div className="space-y-1.5">
          {lanes.map((lane) => (
            <div key={lane.label} className="rounded border border-dashed border-slate-300 p-1.5 dark:border-ink-700">
              <p className="mb-1 text-[11px] font-semibold text-slate-600 dark:text-slate-400">{lane.label}</p>
              <ol aria-label={`Members with ${lane.label}, next out first`} className="flex flex-wrap gap-1">
                {lane.members.map((m, i) => {
                  const added = prev !== undefined && !before.has(m.member);
                  return (
                    <li key={`${m.member}-${i}`} className={`${chip} ${added ? chipNew : chipPlain}`} title={`${m.member} (score ${m.score})`}>
                      {m.member} <span className="text-slate-600 dark:text-slate-400">{lane.short ? lane.short(m.score) : formatScore(m.score)}</span>
                      {added && <span className="sr-only"> (new)</span>}
                    </li>
                  );
                })}
              </ol>
            </div>
          ))}
          {snap.members.length === 0 && <p className="text-xs text-slate-600 dark:text-slate-400">(empty)</p>}
          <More shown={snap.members.length} length={snap.length} noun="members" />
        </div>
      );
    }
    case "list":
      return (
        <div>
          <div className="flex items-start gap-1 text-[11px] font-semibold text-slate-600 dark:text-slate-400">
            <span className="mt-0.5 shrink-0">head</span>
            <ol aria-label="Items from head to tail" className="flex min-w-0 flex-1 flex-wrap items-center gap-1">
              {snap.items.map((item, i) => (
                <li key={i} className="flex min-w-0 items-center gap-1">
                  <span className={`${chip} ${chipPlain}`} title={item}>
                    {item}
                  </span>
                  {i < snap.items.length - 1 && (
                    <span aria-hidden className="text-slate-500">
                      →
                    </span>
                  )}
                </li>
              ))}
              {snap.items.length === 0 && <li className="font-normal">(empty)</li>}
            </ol>
            <span className="mt-0.5 shrink-0">tail</span>
          </div>
          <More shown={snap.items.length} length={snap.length} noun="items" />
        </div>
      );
    case "set": {
      const before = new Set(prev?.type === "set" ? prev.members : []);
      return (
        <div>
          <ul aria-label="Members" className="flex flex-wrap gap-1">
            {snap.members.map((m) => {
              const added = prev !== undefined && !before.has(m);
              return (
                <li key={m} className={`${chip} ${added ? chipNew : chipPlain}`} title={m}>
                  {m}
                  {added && <span className="sr-only"> (new)</span>}
                </li>
              );
            })}
          </ul>
          <More shown={snap.members.length} length={snap.length} noun="members" />
        </div>
      );
    }
    case "hash": {
      const before = prev?.type === "hash" ? prev.fields : undefined;
      const fields = Object.entries(snap.fields);
      return (
        <div>
          <table className="w-full table-fixed border-collapse font-mono text-xs">
            <thead className="sr-only">
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {fields.map(([f, v]) => {
                const changed = before !== undefined && before[f] !== v;
                return (
                  <tr key={f} className={`border-t border-slate-200 first:border-0 dark:border-ink-700 ${changed ? "bg-brand-50 dark:bg-brand-800/30" : ""}`}>
                    <th scope="row" className="w-2/5 truncate px-1.5 py-0.5 text-left font-semibold text-slate-800 dark:text-slate-200" title={f}>
                      {f}
                    </th>
                    <td className="break-all px-1.5 py-0.5 text-slate-900 dark:text-slate-100">
                      {v}
                      {changed && <span className="sr-only"> (changed)</span>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <More shown={fields.length} length={snap.length} noun="fields" />
        </div>
      );
    }
    case "stream": {
      const seen = new Set(prev?.type === "stream" ? prev.entries.map((e) => e.id) : []);
      // Snapshots hold the newest entries newest first; a log reads oldest to newest.
      const entries = [...snap.entries].reverse();
      return (
        <div>
          <ol aria-label="Entries, oldest first" className="space-y-0.5 font-mono text-xs">
            {entries.map((e) => {
              const added = prev !== undefined && !seen.has(e.id);
              return (
                <li key={e.id} className={`flex gap-2 rounded px-1 ${added ? "bg-brand-50 dark:bg-brand-800/30" : ""}`}>
                  <span className="shrink-0 text-slate-600 dark:text-slate-400">{e.id}</span>
                  <span className="min-w-0 break-all text-slate-900 dark:text-slate-100">
                    {Object.entries(e.fields)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(" ")}
                  </span>
                  {added && <span className="sr-only"> (new)</span>}
                </li>
              );
            })}
          </ol>
          {snap.length > snap.entries.length && (
            <p className="mt-1 text-xs text-slate-600 dark:text-slate-400">
              Newest {snap.entries.length} of {snap.length.toLocaleString("en")} entries shown.
            </p>
          )}
        </div>
      );
    }
    default:
      return <p className="text-xs text-slate-600 dark:text-slate-400">A type the live view does not show.</p>;
  }
}

const same = (a: KeySnapshot, b: KeySnapshot | undefined) => b !== undefined && JSON.stringify(a) === JSON.stringify(b);

/** Ignores TTL countdown: a key whose only change is its TTL ticking down has not "changed". */
const sameContent = (a: KeySnapshot, b: KeySnapshot | undefined) =>
  b !== undefined && same({ ...a, ttlMs: 0 }, { ...b, ttlMs: 0 } as KeySnapshot) && a.ttlMs < 0 === b.ttlMs < 0;

/**
 * One snapshot of the learner's Redis, each key drawn by its type. Keys that changed since the
 * previous snapshot are highlighted, and keys that disappeared are listed.
 */
export function RedisView({ keys, previous, label }: { keys: KeySnapshot[] | undefined; previous: KeySnapshot[] | undefined; label: string }) {
  if (!keys) {
    return (
      <p className="text-sm text-slate-700 dark:text-slate-300">
        No snapshot yet. Press Run: the live view shows your Redis a few times a second while your program runs.
      </p>
    );
  }
  const before = new Map(previous?.map((k) => [k.key, k]));
  const gone = previous ? previous.filter((k) => !keys.some((x) => x.key === k.key)).map((k) => k.key) : [];
  return (
    <section aria-label={label} className="space-y-2">
      {keys.length === 0 && <p className="text-sm text-slate-700 dark:text-slate-300">Redis is empty.</p>}
      {gone.length > 0 && (
        <p className="text-xs text-slate-700 dark:text-slate-300">
          Deleted since the previous snapshot: <span className="font-mono">{gone.join(", ")}</span>
        </p>
      )}
      <ul className="space-y-2">
        {keys.map((snap) => {
          const prev = before.get(snap.key);
          const status = !previous ? null : !prev ? "new" : sameContent(snap, prev) ? null : "changed";
          const ttl = formatTtl(snap.ttlMs);
          return (
            <li
              key={snap.key}
              data-key={snap.key}
              data-changed={status ?? undefined}
              className={`rounded-md border p-2 transition-colors ${status ? "border-brand-600 ring-1 ring-brand-500/40 dark:border-brand-400" : "border-slate-200 dark:border-ink-700"}`}
            >
              <div className="mb-1.5 flex flex-wrap items-center gap-1.5">
                <h4 className="min-w-0 truncate font-mono text-sm font-semibold" title={snap.key}>
                  {snap.key}
                </h4>
                <span className={`rounded px-1.5 text-[11px] font-semibold ${TYPE_BADGE[snap.type]}`}>{TYPE_NAME[snap.type]}</span>
                {"length" in snap && <span className="text-[11px] text-slate-600 dark:text-slate-400">{snap.length.toLocaleString("en")}</span>}
                {ttl && (
                  <span className="rounded bg-amber-100 px-1.5 text-[11px] font-semibold text-amber-900 dark:bg-amber-950 dark:text-amber-200">TTL {ttl}</span>
                )}
                {status && (
                  <span className="ml-auto rounded bg-brand-700 px-1.5 text-[11px] font-semibold text-white dark:bg-brand-400 dark:text-ink-950">{status}</span>
                )}
              </div>
              <Body snap={snap} prev={previous ? prev : undefined} />
            </li>
          );
        })}
      </ul>
    </section>
  );
}

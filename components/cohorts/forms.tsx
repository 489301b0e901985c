"use client";

import { useActionState, useState } from "react";
import {
  addInstructorAction,
  createCohortAction,
  joinCohortAction,
  replaceInviteAction,
  setRequirementAction,
  updateCohortAction,
  type FormState,
} from "@/app/cohorts/actions";
import { Button } from "@/components/ui/button";

const input = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-slate-900 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100";
// How each button looks while its form is pending, as these forms always had it.
const waiting = "disabled:cursor-wait disabled:opacity-70";
const dimmed = "disabled:opacity-60";

function Outcome({ state }: { state: FormState }) {
  return (
    <p role="status" aria-live="polite" className={state?.error ? "text-sm text-red-700 dark:text-red-400" : "text-sm text-emerald-800 dark:text-emerald-300"}>
      {state?.error ?? state?.done ?? ""}
    </p>
  );
}

function Thresholds({ idleDays, stuckFails }: { idleDays: number; stuckFails: number }) {
  return (
    <>
      <label className="block text-sm font-medium">
        Flag as idle after (days)
        <input name="idleDays" type="number" min={1} max={90} defaultValue={idleDays} className={input} />
      </label>
      <label className="block text-sm font-medium">
        Flag as stuck after (failed runs of one check in a row)
        <input name="stuckFails" type="number" min={2} max={50} defaultValue={stuckFails} className={input} />
      </label>
    </>
  );
}

export function CreateCohortForm() {
  const [state, action, pending] = useActionState(createCohortAction, null);
  return (
    <form action={action} className="grid gap-3 sm:max-w-md">
      <label className="block text-sm font-medium">
        Name
        <input name="name" required maxLength={80} placeholder="Spring 2027 evening" className={input} />
      </label>
      <Thresholds idleDays={7} stuckFails={5} />
      <Button type="submit" variant="primary" disabled={pending} className={waiting}>
        {pending ? "Creating…" : "Create cohort"}
      </Button>
      <Outcome state={state} />
    </form>
  );
}

export function CohortSettingsForm({ cohortId, name, idleDays, stuckFails }: { cohortId: string; name: string; idleDays: number; stuckFails: number }) {
  const [state, action, pending] = useActionState(updateCohortAction.bind(null, cohortId), null);
  return (
    <form action={action} className="grid gap-3 sm:max-w-md">
      <label className="block text-sm font-medium">
        Name
        <input name="name" required maxLength={80} defaultValue={name} className={input} />
      </label>
      <Thresholds idleDays={idleDays} stuckFails={stuckFails} />
      <Button type="submit" variant="secondary" size="sm" disabled={pending} className={dimmed}>
        {pending ? "Saving…" : "Save settings"}
      </Button>
      <Outcome state={state} />
    </form>
  );
}

export function InviteBox({ cohortId, link, code }: { cohortId: string; link: string; code: string }) {
  const [state, action, pending] = useActionState(replaceInviteAction.bind(null, cohortId), null);
  const [copied, setCopied] = useState(false);
  return (
    <div className="rounded-lg border border-slate-200 p-4 dark:border-ink-700">
      <p className="text-sm">
        Share this link with learners, or give them the code to type at <span className="font-mono">/join</span>.
      </p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <label htmlFor="invite-link" className="sr-only">
          Invite link
        </label>
        <input
          id="invite-link"
          readOnly
          value={link}
          className="min-w-0 flex-1 rounded border border-slate-300 bg-slate-50 px-2 py-1 font-mono text-sm dark:border-ink-700 dark:bg-ink-900"
          onFocus={(e) => e.currentTarget.select()}
        />
        <Button
          type="button"
          variant="secondary"
          size="sm"
          className={dimmed}
          onClick={async () => {
            await navigator.clipboard?.writeText(link).catch(() => undefined);
            setCopied(true);
            setTimeout(() => setCopied(false), 2000);
          }}
        >
          {copied ? "Copied" : "Copy link"}
        </Button>
      </div>
      <p className="mt-2 text-sm">
        Code:{" "}
        <strong className="font-mono text-lg tracking-widest" data-testid="invite-code">
          {code}
        </strong>
      </p>
      <form action={action} className="mt-3 flex flex-wrap items-center gap-3">
        <Button type="submit" variant="secondary" size="sm" disabled={pending} className={dimmed}>
          {pending ? "Replacing…" : "Replace code"}
        </Button>
        <span className="text-xs text-slate-600 dark:text-slate-400">The old link stops working; everyone who joined stays.</span>
      </form>
      <Outcome state={state} />
    </div>
  );
}

export interface TargetOption {
  value: string;
  label: string;
  checks: { id: string; title: string }[];
}

export function RequirementForm({ cohortId, targets }: { cohortId: string; targets: TargetOption[] }) {
  const [state, action, pending] = useActionState(setRequirementAction.bind(null, cohortId), null);
  const [target, setTarget] = useState(targets[0]?.value ?? "");
  const chosen = targets.find((t) => t.value === target);
  return (
    <form action={action} className="grid gap-3 sm:max-w-xl">
      <label className="block text-sm font-medium">
        Required
        <select name="target" value={target} onChange={(e) => setTarget(e.target.value)} className={input}>
          <optgroup label="Milestones (pass the milestone)">
            {targets
              .filter((t) => t.value.startsWith("milestone:"))
              .map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
          </optgroup>
          <optgroup label="Labs (pass their checks)">
            {targets
              .filter((t) => t.value.startsWith("lab:"))
              .map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
          </optgroup>
        </select>
      </label>
      {chosen && chosen.checks.length > 0 && (
        <fieldset className="rounded-md border border-slate-200 p-3 dark:border-ink-700">
          <legend className="px-1 text-sm font-medium">Checks required (none ticked: all of them)</legend>
          {chosen.checks.map((c) => (
            <label key={c.id} className="flex items-start gap-2 py-0.5 text-sm">
              <input type="checkbox" name="checks" value={c.id} className="mt-1" />
              <span>
                {c.title} <span className="font-mono text-xs text-slate-600 dark:text-slate-400">{c.id}</span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      <label className="block text-sm font-medium">
        Due date (optional; due at the end of that day, UTC)
        <input name="dueDate" type="date" className={input} />
      </label>
      <Button type="submit" variant="primary" disabled={pending} className={waiting}>
        {pending ? "Saving…" : "Add requirement"}
      </Button>
      <Outcome state={state} />
    </form>
  );
}

/** With a known cohort (from an invite link) it is one button; without, a field for the code. */
export function JoinForm({ code = "", cohortName }: { code?: string; cohortName?: string }) {
  const [state, action, pending] = useActionState(joinCohortAction, null);
  return (
    <form action={action} className="grid gap-3 sm:max-w-sm">
      {cohortName ? (
        <input type="hidden" name="code" value={code} />
      ) : (
        <label className="block text-sm font-medium">
          Invite code
          <input name="code" required defaultValue={code} autoComplete="off" placeholder="K7M2-Q9XD" className={`${input} font-mono tracking-widest`} />
        </label>
      )}
      <Button type="submit" variant="primary" disabled={pending} className={waiting}>
        {pending ? "Joining…" : cohortName ? `Join ${cohortName}` : "Join cohort"}
      </Button>
      <Outcome state={state} />
    </form>
  );
}

export function AddInstructorForm({ cohortId }: { cohortId: string }) {
  const [state, action, pending] = useActionState(addInstructorAction.bind(null, cohortId), null);
  return (
    <form action={action} className="mt-3 grid gap-2 sm:max-w-md">
      <label className="block text-sm font-medium">
        Add an instructor (their account email)
        <input name="email" type="email" required autoComplete="off" className={input} />
      </label>
      <Button type="submit" variant="secondary" size="sm" disabled={pending} className={dimmed}>
        {pending ? "Adding…" : "Add instructor"}
      </Button>
      <Outcome state={state} />
    </form>
  );
}

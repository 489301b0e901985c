import Link from "next/link";
import { Button } from "@/components/ui/button";
import type { QuizQuestion } from "@/lib/content/schema";

interface QuizProps {
  questions: QuizQuestion[];
  answers: Map<string, { choice: number; correct: boolean }>;
  signedIn: boolean;
  /** The server action that grades and stores answers. */
  action: (form: FormData) => Promise<void>;
  error?: string;
  returnTo: string;
}

/**
 * A lesson's quiz as a plain form posting to a server action, so it works without JavaScript.
 * Which answer is right, and why, is rendered only for questions the learner has answered.
 */
export function Quiz({ questions, answers, signedIn, action, error, returnTo }: QuizProps) {
  const answered = questions.filter((q) => answers.has(q.id));
  const correct = answered.filter((q) => answers.get(q.id)?.correct).length;
  return (
    <section id="quiz" aria-labelledby="quiz-title" className="not-prose my-10 rounded-xl border border-slate-200 p-5 dark:border-ink-700">
      <h2 id="quiz-title" className="text-xl font-bold">
        Check your understanding
      </h2>
      {answered.length > 0 && (
        <p role="status" className="mt-1 text-sm text-slate-700 dark:text-slate-300">
          {correct} of {questions.length} correct
          {correct === questions.length ? " — all right." : answered.length < questions.length ? "; some questions are still open." : "; try the others again."}
        </p>
      )}
      {error && (
        <p role="alert" className="mt-2 rounded bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200">
          {error}
        </p>
      )}
      <form action={action} className="mt-4 space-y-6">
        {questions.map((q, n) => {
          const mine = answers.get(q.id);
          return (
            <fieldset key={q.id} className="space-y-2" aria-describedby={mine ? `${q.id}-result` : undefined}>
              <legend className="font-semibold">
                {n + 1}. {q.prompt}
              </legend>
              {q.choices.map((choice, i) => {
                const isAnswer = mine && i === q.answer;
                const wrongPick = mine && i === mine.choice && !mine.correct;
                return (
                  <label
                    key={i}
                    className={`flex cursor-pointer items-start gap-3 rounded-md border px-3 py-2 ${isAnswer ? "border-emerald-500 bg-emerald-50 dark:bg-emerald-950/40" : wrongPick ? "border-red-400 bg-red-50 dark:bg-red-950/40" : "border-slate-200 hover:bg-slate-50 dark:border-ink-700 dark:hover:bg-ink-900"}`}
                  >
                    <input
                      type="radio"
                      name={`q:${q.id}`}
                      value={i}
                      defaultChecked={mine?.choice === i}
                      className="mt-1 accent-brand-700"
                      disabled={!signedIn}
                    />
                    <span>
                      {choice}
                      {isAnswer && <span className="ml-2 text-sm font-semibold text-emerald-800 dark:text-emerald-300">correct answer</span>}
                      {wrongPick && <span className="ml-2 text-sm font-semibold text-red-800 dark:text-red-300">your answer</span>}
                    </span>
                  </label>
                );
              })}
              {mine && (
                <p id={`${q.id}-result`} className="text-sm text-slate-700 dark:text-slate-300">
                  <strong className={mine.correct ? "text-emerald-800 dark:text-emerald-300" : "text-red-800 dark:text-red-300"}>
                    {mine.correct ? "Right. " : "Not quite. "}
                  </strong>
                  {q.explanation}
                </p>
              )}
            </fieldset>
          );
        })}
        {signedIn ? (
          <Button type="submit" variant="primary">
            {answered.length > 0 ? "Check my answers again" : "Check my answers"}
          </Button>
        ) : (
          <p className="text-sm">
            <Link href={`/signin?callbackUrl=${encodeURIComponent(returnTo)}`} className="font-semibold text-brand-700 underline dark:text-brand-400">
              Sign in
            </Link>{" "}
            to answer; your answers count towards the milestone.
          </p>
        )}
      </form>
    </section>
  );
}

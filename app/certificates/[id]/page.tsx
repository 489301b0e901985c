import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { db } from "@/lib/db";
import { findCertificate } from "@/lib/progress/certificates";

export const dynamic = "force-dynamic";

export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  const cert = await findCertificate(db(), (await params).id);
  return cert ? { title: `${cert.learnerName} · ${cert.milestone}`, robots: { index: false } } : { title: "Certificate not found" };
}

/** Public: anyone with the link can verify what was certified, as it was at issue. */
export default async function CertificatePage({ params }: { params: Promise<{ id: string }> }) {
  const cert = await findCertificate(db(), (await params).id);
  if (!cert) notFound();
  const date = cert.issuedAt.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  return (
    <div className="mx-auto max-w-3xl px-4 py-12">
      <article aria-labelledby="certificate-title" className="rounded-2xl border-2 border-brand-600 p-8 shadow-sm dark:border-brand-500">
        <p className="font-mono text-xs font-semibold uppercase tracking-widest text-brand-700 dark:text-brand-400">Faultline certificate</p>
        <h1 id="certificate-title" className="mt-4 text-3xl font-bold tracking-tight">
          {cert.learnerName}
        </h1>
        <p className="mt-2 text-lg">
          passed <strong>{cert.milestone}</strong> with {cert.percent}% of its checklist on {date}.
        </p>
        <h2 className="mt-8 text-sm font-semibold uppercase tracking-wider text-slate-600 dark:text-slate-400">Evidence</h2>
        <ul className="mt-3 space-y-2">
          {cert.evidence.map((e) => (
            <li key={e.item} className="text-sm">
              <span className="font-semibold">{e.item}</span>: {e.how}
              {e.at ? ` (${e.at.slice(0, 10)})` : ""}
            </li>
          ))}
        </ul>
        <p className="mt-8 border-t border-slate-200 pt-4 text-xs text-slate-600 dark:border-ink-700 dark:text-slate-400">
          Certificate {cert.id}. Graded by the platform from runs its runner stored, quizzes and reflections; this page is its record.
        </p>
      </article>
    </div>
  );
}

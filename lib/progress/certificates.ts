/**
 * Milestone certificates: issued only when the server's own grade reaches the milestone's pass
 * mark, and frozen at issue, so the public page shows what was certified even if the course
 * changes later. The id is random and long enough that a certificate URL cannot be guessed.
 */
import { randomBytes } from "node:crypto";
import { displayName } from "../auth/names.ts";
import type { Milestone } from "../content/schema.ts";
import type { Db } from "../db/client.ts";
import { loadEvidence } from "./evidence.ts";
import { gradeMilestone, type QuizIndex } from "./grade.ts";
import { RequestError } from "../errors.ts";

export class CertificateError extends RequestError {
  override name = "CertificateError";
  constructor(message: string) {
    super(409, message);
  }
}

export interface CertificateEvidence {
  item: string;
  how: string;
  at?: string;
}

export interface CertificateView {
  id: string;
  learnerName: string;
  milestone: string;
  milestoneId: string;
  percent: number;
  issuedAt: Date;
  evidence: CertificateEvidence[];
}

/** Issues the learner's certificate for a passed milestone, or returns the one already issued. */
export async function issueCertificate(
  db: Db,
  user: { id: string; name: string | null; email: string },
  milestone: Milestone,
  quizzes: QuizIndex,
): Promise<string> {
  const existing = await db.certificate.findUnique({ where: { userId_milestoneId: { userId: user.id, milestoneId: milestone.id } }, select: { id: true } });
  if (existing) return existing.id;
  const grade = gradeMilestone(milestone, quizzes, await loadEvidence(db, user.id));
  if (!grade.passed) throw new CertificateError(`${milestone.code} is at ${grade.percent}%; its certificate needs ${milestone.passPercent}%.`);
  const evidence: CertificateEvidence[] = grade.items.flatMap((item) => {
    const p = item.proof;
    if (!item.satisfied || !p) return [];
    if (p.kind === "checks")
      return [{ item: item.title, how: `Passed ${p.checks.join(", ")} in the lab ${p.labId} (run ${p.submissionId})`, at: p.at.toISOString() }];
    if (p.kind === "quiz")
      return [{ item: item.title, how: `Answered the quiz of ${p.lessons.join(", ")} correctly`, ...(p.at ? { at: p.at.toISOString() } : {}) }];
    return [{ item: item.title, how: "Wrote a reflection", at: p.at.toISOString() }];
  });
  const id = randomBytes(12).toString("base64url");
  try {
    await db.certificate.create({
      data: {
        id,
        userId: user.id,
        milestoneId: milestone.id,
        learnerName: displayName(user),
        milestone: `${milestone.code} ${milestone.title}`,
        percent: grade.percent,
        evidence: JSON.stringify(evidence),
      },
    });
    return id;
  } catch (error) {
    // Issued meanwhile from another tab: the unique key keeps one; return it.
    const raced = await db.certificate.findUnique({ where: { userId_milestoneId: { userId: user.id, milestoneId: milestone.id } }, select: { id: true } });
    if (raced) return raced.id;
    throw error;
  }
}

export async function findCertificate(db: Db, id: string): Promise<CertificateView | null> {
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(id)) return null;
  const row = await db.certificate.findUnique({ where: { id } });
  if (!row) return null;
  let evidence: CertificateEvidence[] = [];
  try {
    evidence = JSON.parse(row.evidence) as CertificateEvidence[];
  } catch {
    // an unreadable evidence list still leaves a valid certificate
  }
  return {
    id: row.id,
    learnerName: row.learnerName,
    milestone: row.milestone,
    milestoneId: row.milestoneId,
    percent: row.percent,
    issuedAt: row.issuedAt,
    evidence,
  };
}

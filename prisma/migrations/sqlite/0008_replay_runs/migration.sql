-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Submission" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "mode" TEXT NOT NULL,
    "files" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "seed" INTEGER,
    "replay" BOOLEAN NOT NULL DEFAULT false,
    "message" TEXT,
    "durationMs" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "Submission_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Submission" ("createdAt", "durationMs", "files", "finishedAt", "id", "labId", "message", "mode", "seed", "startedAt", "status", "userId") SELECT "createdAt", "durationMs", "files", "finishedAt", "id", "labId", "message", "mode", "seed", "startedAt", "status", "userId" FROM "Submission";
DROP TABLE "Submission";
ALTER TABLE "new_Submission" RENAME TO "Submission";
CREATE INDEX "Submission_userId_labId_createdAt_idx" ON "Submission"("userId", "labId", "createdAt");
CREATE INDEX "Submission_status_idx" ON "Submission"("status");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

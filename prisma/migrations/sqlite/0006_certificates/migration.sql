-- CreateTable
CREATE TABLE "Certificate" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "milestoneId" TEXT NOT NULL,
    "learnerName" TEXT NOT NULL,
    "milestone" TEXT NOT NULL,
    "percent" INTEGER NOT NULL,
    "evidence" TEXT NOT NULL,
    "issuedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Certificate_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "Certificate_userId_milestoneId_key" ON "Certificate"("userId", "milestoneId");

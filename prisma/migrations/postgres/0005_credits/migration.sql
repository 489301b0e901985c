-- CreateTable
CREATE TABLE "ChecklistCredit" (
    "userId" TEXT NOT NULL,
    "milestoneId" TEXT NOT NULL,
    "itemId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "labId" TEXT,
    "submissionId" TEXT,
    "basis" TEXT NOT NULL,
    "fraction" DOUBLE PRECISION NOT NULL,
    "earnedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ChecklistCredit_pkey" PRIMARY KEY ("userId","milestoneId","itemId")
);

-- CreateTable
CREATE TABLE "Reflection" (
    "userId" TEXT NOT NULL,
    "milestoneId" TEXT NOT NULL,
    "itemId" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "writtenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Reflection_pkey" PRIMARY KEY ("userId","milestoneId","itemId")
);

-- AddForeignKey
ALTER TABLE "ChecklistCredit" ADD CONSTRAINT "ChecklistCredit_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Reflection" ADD CONSTRAINT "Reflection_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- CreateTable
CREATE TABLE "Draft" (
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "files" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Draft_pkey" PRIMARY KEY ("userId","labId")
);

-- CreateTable
CREATE TABLE "DraftVersion" (
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "files" TEXT NOT NULL,
    "savedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "reason" TEXT NOT NULL,

    CONSTRAINT "DraftVersion_pkey" PRIMARY KEY ("userId","labId","version")
);

-- CreateTable
CREATE TABLE "LabHints" (
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "unlocked" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "LabHints_pkey" PRIMARY KEY ("userId","labId")
);

-- AddForeignKey
ALTER TABLE "Draft" ADD CONSTRAINT "Draft_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DraftVersion" ADD CONSTRAINT "DraftVersion_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LabHints" ADD CONSTRAINT "LabHints_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

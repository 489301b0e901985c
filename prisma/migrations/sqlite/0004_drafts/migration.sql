-- CreateTable
CREATE TABLE "Draft" (
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "files" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "updatedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("userId", "labId"),
    CONSTRAINT "Draft_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "DraftVersion" (
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "files" TEXT NOT NULL,
    "savedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "reason" TEXT NOT NULL,

    PRIMARY KEY ("userId", "labId", "version"),
    CONSTRAINT "DraftVersion_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "LabHints" (
    "userId" TEXT NOT NULL,
    "labId" TEXT NOT NULL,
    "unlocked" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("userId", "labId"),
    CONSTRAINT "LabHints_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

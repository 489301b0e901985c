-- AlterTable
ALTER TABLE "Submission" ADD COLUMN     "replay" BOOLEAN NOT NULL DEFAULT false;

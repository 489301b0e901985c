// Read-only: how the grader tests your RespParser on its own, away from the socket. It feeds a
// stream of replies in pieces it chooses (one byte at a time, random sizes, all at once) and looks
// at which replies each push returned.
import { RespParser, type Reply } from "./resp.ts";

/** Feeds each chunk (its bytes as numbers) to one new RespParser; returns what each push returned. */
export function feed(chunks: number[][]): Reply[][] {
  const parser = new RespParser();
  return chunks.map((chunk) => parser.push(Buffer.from(chunk)));
}

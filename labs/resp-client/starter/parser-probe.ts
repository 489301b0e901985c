// Read-only: how the grader tests your RespParser on its own, away from the socket. It feeds a
// stream of replies in pieces it chooses (one byte at a time, split in two at every byte, random
// sizes, all at once) and looks at which replies each push returned.
import { RespParser, type Reply } from "./resp.ts";

/** Feeds each chunk (its bytes as numbers) to one new RespParser; returns what each push returned. */
export function feed(chunks: number[][]): Reply[][] {
  const parser = new RespParser();
  return chunks.map((chunk) => parser.push(Buffer.from(chunk)));
}

/** What one new RespParser returned from each push, or the push that threw and what it threw. */
export type Fed = Reply[][] | { threw: string; push: number };

/**
 * Feeds the same bytes (base64) to a new RespParser once per way of cutting them: each entry of
 * `cuts` lists the offsets where one chunk ends and the next begins.
 */
export function feedCuts(stream: string, cuts: number[][]): Fed[] {
  const bytes = Buffer.from(stream, "base64");
  return cuts.map((offsets) => {
    const parser = new RespParser();
    const pushed: Reply[][] = [];
    let from = 0;
    for (const end of [...offsets, bytes.length]) {
      try {
        // A copy, as a socket's chunk would be: the parser may keep it.
        pushed.push(parser.push(Buffer.from(bytes.subarray(from, end))));
      } catch (error) {
        return { threw: error instanceof Error ? `${error.name}: ${error.message}` : String(error), push: pushed.length + 1 };
      }
      from = end;
    }
    return pushed;
  });
}

import { expect, test } from "vitest";
import { csvCell, toCsv } from "./csv.ts";

test("cells with commas, quotes and line breaks are quoted; numbers and empties are plain", () => {
  expect(toCsv([["a,b", 'say "hi"', "two\nlines", 42, null]])).toBe('"a,b","say ""hi""","two\nlines",42,\r\n');
});

test("a cell a spreadsheet would run as a formula is defused", () => {
  expect(csvCell('=HYPERLINK("http://evil")')).toBe('"\'=HYPERLINK(""http://evil"")"');
  expect(csvCell("+1")).toBe("'+1");
  expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
  expect(csvCell("-")).toBe("'-");
  expect(csvCell("Ada Lovelace")).toBe("Ada Lovelace");
});

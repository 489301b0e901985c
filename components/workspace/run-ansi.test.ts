import { expect, test } from "vitest";
import { parseAnsi } from "./run-ansi";

const E = "\u001b[";

test("plain text is one unstyled span", () => {
  expect(parseAnsi("hello").spans).toEqual([{ text: "hello", style: {} }]);
});

test("basic, bright and reset colours with bold", () => {
  const { spans, end } = parseAnsi(`${E}1;31mFAIL${E}0m ${E}92mok${E}39m done`);
  expect(spans).toEqual([
    { text: "FAIL", style: { bold: true, fg: 1 } },
    { text: " ", style: {} },
    { text: "ok", style: { fg: 10 } },
    { text: " done", style: {} },
  ]);
  expect(end).toEqual({});
});

test("256 and truecolour become CSS colours; 0-15 of 256 stay theme indexes", () => {
  expect(parseAnsi(`${E}38;5;196mX`).spans[0]!.style).toEqual({ fg: "rgb(255, 0, 0)" });
  expect(parseAnsi(`${E}38;5;9mX`).spans[0]!.style).toEqual({ fg: 9 });
  expect(parseAnsi(`${E}48;2;10;20;30mX`).spans[0]!.style).toEqual({ bg: "rgb(10, 20, 30)" });
  expect(parseAnsi(`${E}38;5;244mX`).spans[0]!.style).toEqual({ fg: "rgb(128, 128, 128)" });
});

test("style carries over to the next line, as in a terminal", () => {
  const first = parseAnsi(`${E}33mwarning: multi`);
  const second = parseAnsi("line text", first.end);
  expect(second.spans).toEqual([{ text: "line text", style: { fg: 3 } }]);
});

test("non-SGR escapes, OSC titles and carriage returns are removed", () => {
  expect(parseAnsi(`${E}2K\r${E}1Gprogress 50%\u001b]0;title\u0007 end`).spans).toEqual([{ text: "progress 50% end", style: {} }]);
});

test("an empty SGR resets; a lone ESC or malformed codes do not throw", () => {
  expect(parseAnsi(`${E}31mred${E}mplain`).spans).toEqual([
    { text: "red", style: { fg: 1 } },
    { text: "plain", style: {} },
  ]);
  expect(parseAnsi("a\u001b").spans).toEqual([{ text: "a", style: {} }]);
  expect(parseAnsi(`${E}38;9;1mX`).spans).toEqual([{ text: "X", style: {} }]);
});

import { expect, test } from "vitest";
import { describeJsonError } from "./json-error.ts";

const describe = (text: string) => {
  try {
    JSON.parse(text);
  } catch (error) {
    return describeJsonError(text, error);
  }
  return "parsed";
};

test("a broken JSON file is described by line and column, whether or not V8 gave an offset", () => {
  expect(describe('{\n  "a": 1\n  "b": 2\n}')).toBe("line 3, column 3: Expected ',' or '}' after property value");
  expect(describe('{\n  "labs": [1,\n    2,,\n  ]\n}')).toBe("line 3, column 7: Unexpected token ','");
  expect(describe('{\n  "id": "x",\n}')).toBe("line 3, column 1: Expected double-quoted property name");
  expect(describe('{\n  "id": "x"')).toBe("line 2, column 12: Expected ',' or '}' after property value");
});

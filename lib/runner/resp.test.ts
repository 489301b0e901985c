import { expect, test } from "vitest";
import { encodeCommand, encodeReply, RespParser, RespProtocolError, splitInlineArgs, type RespValue } from "./resp.ts";

const bulk = (s: string | null): RespValue => ({ type: "bulk", value: s === null ? null : Buffer.from(s) });
const values = (parser: RespParser, input: Buffer) => parser.push(input).map((p) => p.value);

test.each<[string, RespValue]>([
  ["simple", { type: "simple", value: "OK" }],
  ["error", { type: "error", value: "ERR wrong type" }],
  ["integer", { type: "integer", value: -42 }],
  ["bulk", bulk("héllo\r\nworld")],
  ["empty bulk", bulk("")],
  ["null bulk", bulk(null)],
  ["null array", { type: "array", value: null }],
  ["empty array", { type: "array", value: [] }],
  [
    "nested array",
    {
      type: "array",
      value: [
        { type: "integer", value: 1 },
        { type: "array", value: [bulk("a"), bulk(null), { type: "array", value: null }] },
        { type: "simple", value: "x" },
      ],
    },
  ],
])("%s round-trips and reports its raw bytes", (_name, value) => {
  const encoded = encodeReply(value);
  const parsed = new RespParser().push(encoded);
  expect(parsed).toHaveLength(1);
  expect(parsed[0]?.value).toEqual(value);
  expect(parsed[0]?.raw.equals(encoded)).toBe(true);
});

test("encodeCommand produces an array of bulk strings", () => {
  expect(encodeCommand(["SET", Buffer.from("k"), "v"]).toString()).toBe("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  expect(values(new RespParser(), encodeCommand(["GET", "k"]))).toEqual([{ type: "array", value: [bulk("GET"), bulk("k")] }]);
});

test("a pipeline of 100 commands fed one byte at a time parses to the same 100 commands with exact raw bytes", () => {
  const commands = Array.from({ length: 100 }, (_, i) => encodeCommand(["SET", `key:${i}`, "v".repeat(i)]));
  const parser = new RespParser();
  const out = [];
  const all = Buffer.concat(commands);
  for (let i = 0; i < all.length; i++) out.push(...parser.push(all.subarray(i, i + 1)));
  expect(out).toHaveLength(100);
  out.forEach((p, i) => {
    expect(p.raw.equals(commands[i] as Buffer)).toBe(true);
    expect(p.value).toEqual({ type: "array", value: [bulk("SET"), bulk(`key:${i}`), bulk("v".repeat(i))] });
  });
});

test("pipelined values in one chunk all come back in order", () => {
  const input = Buffer.from("+OK\r\n:1\r\n$1\r\na\r\n");
  expect(values(new RespParser(), input)).toEqual([{ type: "simple", value: "OK" }, { type: "integer", value: 1 }, bulk("a")]);
});

test("multi-byte UTF-8 split across chunks is reassembled", () => {
  const encoded = encodeReply({ type: "array", value: [bulk("日本語 🎉"), { type: "simple", value: "ça marche" }] });
  const parser = new RespParser();
  const split = encoded.indexOf(Buffer.from("本")) + 1; // inside a 3-byte sequence
  const splitSimple = encoded.indexOf(Buffer.from("ç")) + 1;
  expect(parser.push(encoded.subarray(0, split))).toEqual([]);
  expect(parser.push(encoded.subarray(split, splitSimple))).toEqual([]);
  expect(parser.push(encoded.subarray(splitSimple)).map((p) => p.value)).toEqual([
    { type: "array", value: [bulk("日本語 🎉"), { type: "simple", value: "ça marche" }] },
  ]);
});

test("inline commands parse as an array of bulk strings; blank lines are skipped", () => {
  const parser = new RespParser();
  expect(values(parser, Buffer.from("PING\r\n\r\nSET  k\tv\nGE"))).toEqual([
    { type: "array", value: [bulk("PING")] },
    { type: "array", value: [bulk("SET"), bulk("k"), bulk("v")] },
  ]);
  expect(values(parser, Buffer.from("T k\r\n"))).toEqual([{ type: "array", value: [bulk("GET"), bulk("k")] }]);
});

test("inline input is rejected when the parser reads server replies", () => {
  expect(() => new RespParser({ inline: false }).push(Buffer.from("PING\r\n"))).toThrow(RespProtocolError);
});

test("an oversized bulk is rejected from its header, before the data arrives", () => {
  const parser = new RespParser({ maxBulkBytes: 10 });
  expect(() => parser.push(Buffer.from("*1\r\n$11\r\n"))).toThrow("Protocol error: bulk length 11 exceeds the limit of 10 bytes");
  expect(() => new RespParser().push(Buffer.from(`$${64 * 1024 * 1024 + 1}\r\n`))).toThrow(/exceeds the limit of 67108864 bytes/);
});

test("an oversized array, an endless line and malformed lengths are rejected", () => {
  expect(() => new RespParser({ maxArrayLength: 3 }).push(Buffer.from("*4\r\n"))).toThrow("array length 4 exceeds the limit of 3 elements");
  expect(() => new RespParser({ maxLineBytes: 16 }).push(Buffer.from("x".repeat(32)))).toThrow("line longer than 16 bytes");
  expect(() => new RespParser().push(Buffer.from("$abc\r\n"))).toThrow('invalid bulk length "abc"');
  expect(() => new RespParser().push(Buffer.from("$1\r\nab\r\n"))).toThrow("not terminated by CRLF");
  expect(() => new RespParser({ maxDepth: 3 }).push(Buffer.from("*1\r\n".repeat(5)))).toThrow("nested deeper than 3");
});

test("a large bulk trickling in is buffered without being re-parsed per chunk", () => {
  const payload = "z".repeat(100_000);
  const encoded = encodeReply(bulk(payload));
  const parser = new RespParser();
  let out: RespValue[] = [];
  for (let i = 0; i < encoded.length; i += 7) out = out.concat(values(parser, encoded.subarray(i, i + 7)));
  expect(out).toEqual([bulk(payload)]);
});

test.each<[string, string[] | null]>([
  ['"AUTH" default x', ["AUTH", "default", "x"]],
  ["'auth' admin admin", ["auth", "admin", "admin"]],
  ['A"UTH" default', ["AUTH", "default"]],
  ['"\\x41UTH" "a\\x4" \'it\\\'s\' "\\n\\r\\t\\b\\a\\q\\""', ["AUTH", "ax4", "it's", '\n\r\t\b\x07q"']],
  ["SET\vk v\fw", ["SET\vk", "v\fw"]],
  ["  PING  ", ["PING"]],
  ['""', [""]],
  ['"AUTH default', null],
  ["'AUTH", null],
  ['"AUTH"x', null],
  ["'a'b", null],
  ['"a\\', null],
])("an inline %j splits as Redis's sdssplitargs does", (line, expected) => {
  expect(splitInlineArgs(Buffer.from(line))?.map((b) => b.toString("latin1")) ?? null).toEqual(expected);
});

test("\\xHH escapes yield raw bytes", () => {
  expect(splitInlineArgs(Buffer.from('"\\xff\\x00"'))).toEqual([Buffer.from([0xff, 0x00])]);
});

test("a request parser reads what Redis reads: only * starts an array, quotes count, bad input is answered after what came before", () => {
  const parser = new RespParser({ requests: true });
  expect(values(parser, Buffer.from('+PING\r\n"AUTH" x\r\n'))).toEqual([
    { type: "array", value: [bulk("+PING")] },
    { type: "array", value: [bulk("AUTH"), bulk("x")] },
  ]);
  expect(values(parser, Buffer.from('PING\r\n"AUTH x\r\nPING\r\n'))).toEqual([{ type: "array", value: [bulk("PING")] }]);
  expect(parser.failed?.message).toBe("Protocol error: unbalanced quotes in request");
  expect(() => parser.push(Buffer.from("PING\r\n"))).toThrow("unbalanced quotes in request");
  expect(() => new RespParser({ requests: true }).push(Buffer.from("AUTH\0 x\r\n"))).toThrow("NUL byte in an inline request");
});

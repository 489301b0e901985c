import { describe, expect, test } from "vitest";
import { formatInviteCode, newInviteCode, parseInviteCode } from "./invite.ts";

describe("invite codes", () => {
  test("new codes are eight unambiguous characters and differ", () => {
    const codes = new Set(Array.from({ length: 200 }, newInviteCode));
    expect(codes.size).toBe(200);
    for (const c of codes) expect(c).toMatch(/^[2-9A-HJKMNP-Z]{8}$/);
  });

  test("what people type or paste is read as the code", () => {
    expect(parseInviteCode("k7m2-q9xd")).toBe("K7M2Q9XD");
    expect(parseInviteCode(" K7M2 Q9XD ")).toBe("K7M2Q9XD");
    expect(parseInviteCode("https://faultline.example.org/join/K7M2Q9XD?x=1")).toBe("K7M2Q9XD");
    expect(formatInviteCode("K7M2Q9XD")).toBe("K7M2-Q9XD");
  });

  test("anything else is not a code", () => {
    for (const bad of ["", "K7M2Q9X", "K7M2Q9XDD", "K7M2Q9X0", "ILO0ILO0", "K7M2Q9X!"]) expect(parseInviteCode(bad)).toBeNull();
  });
});

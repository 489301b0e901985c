/**
 * A small SGR parser for the console: turns a program's ANSI colour escapes into styled spans.
 * Other escape sequences (cursor moves, clearing, titles) are removed, never shown as garbage.
 * Style carries from one line to the next as in a terminal, so a parse takes the style the
 * previous line ended with and returns the one this line ends with.
 */

export interface AnsiStyle {
  fg?: number | string;
  bg?: number | string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
  strike?: boolean;
}

export interface AnsiSpan {
  text: string;
  style: AnsiStyle;
}

export const plainStyle: AnsiStyle = {};

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), and two-byte escapes.
const ESCAPE = /\u001b\[([0-?]*)([ -/]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]?|\u009b[0-?]*[ -/]*[@-~]/g;

const XTERM_LEVELS = [0, 95, 135, 175, 215, 255];

/** An xterm 256-colour index above 15 as a CSS colour; 0–15 stay indexes for the theme's classes. */
function xterm(n: number): number | string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return n;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v}, ${v}, ${v})`;
  }
  const i = n - 16;
  return `rgb(${XTERM_LEVELS[Math.floor(i / 36)]}, ${XTERM_LEVELS[Math.floor(i / 6) % 6]}, ${XTERM_LEVELS[i % 6]})`;
}

function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  let s: AnsiStyle = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0) s = {};
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 7) s.inverse = true;
    else if (c === 9) s.strike = true;
    else if (c === 22) s.bold = s.dim = undefined;
    else if (c === 23) s.italic = undefined;
    else if (c === 24) s.underline = undefined;
    else if (c === 27) s.inverse = undefined;
    else if (c === 29) s.strike = undefined;
    else if (c >= 30 && c <= 37) s.fg = c - 30;
    else if (c === 39) s.fg = undefined;
    else if (c >= 40 && c <= 47) s.bg = c - 40;
    else if (c === 49) s.bg = undefined;
    else if (c >= 90 && c <= 97) s.fg = c - 90 + 8;
    else if (c >= 100 && c <= 107) s.bg = c - 100 + 8;
    else if (c === 38 || c === 48) {
      const mode = codes[i + 1];
      let colour: number | string | undefined;
      if (mode === 5) {
        colour = xterm(codes[i + 2] ?? -1);
        i += 2;
      } else if (mode === 2) {
        const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]].map((v) => Math.max(0, Math.min(255, v ?? 0)));
        colour = `rgb(${r}, ${g}, ${b})`;
        i += 4;
      } else {
        break; // malformed: ignore the rest rather than misread it
      }
      if (c === 38) s.fg = colour;
      else s.bg = colour;
    }
  }
  for (const key of Object.keys(s) as (keyof AnsiStyle)[]) if (s[key] === undefined) delete s[key];
  return s;
}

/** Splits one line into styled spans; `start` is the style the previous line ended with. */
export function parseAnsi(line: string, start: AnsiStyle = plainStyle): { spans: AnsiSpan[]; end: AnsiStyle } {
  const spans: AnsiSpan[] = [];
  let style = start;
  let at = 0;
  const push = (text: string) => {
    // Carriage returns and other C0 controls (but tabs) would render as boxes.
    const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "");
    if (!clean) return;
    const last = spans.at(-1);
    if (last && last.style === style) last.text += clean;
    else spans.push({ text: clean, style });
  };
  for (const match of line.matchAll(ESCAPE)) {
    push(line.slice(at, match.index));
    at = match.index + match[0].length;
    if (match[3] === "m" && match[2] === "") style = applySgr(style, match[1] ?? "");
  }
  push(line.slice(at));
  return { spans, end: style };
}

/** True when the line has any escape at all: most lines do not, and skip the parser. */
export const hasEscapes = (line: string) => line.includes("\u001b") || line.includes("\u009b");

import type { ButtonHTMLAttributes } from "react";

/**
 * The button looks in use, each exactly as it was written out before, so swapping one in changes
 * nothing on screen. A look that differs belongs here as a new entry: a class passed alongside that
 * fights one of these (another padding, another opacity) would leave the winner to CSS order.
 */
const sized = {
  /** The page's main action. */
  primary: "rounded-md bg-brand-700 font-semibold text-white hover:bg-brand-800",
  /** An action beside the main one; its weight varies with where it stands, so callers add it. */
  secondary: "rounded-md border border-slate-300 hover:bg-slate-100 dark:border-ink-700 dark:hover:bg-ink-800",
};

const sizes = {
  lg: "px-5 py-2.5",
  md: "px-4 py-2",
  sm: "px-3 py-1.5 text-sm",
};

const fixed = {
  /** Removing someone or something for good. */
  danger: "rounded-md border border-red-300 px-2 py-1 font-medium text-red-800 hover:bg-red-50 dark:border-red-800 dark:text-red-300 dark:hover:bg-red-950",
  // The lab workspace's denser controls: medium weight, room for an icon, dimmed while disabled.
  "tool-primary": "inline-flex items-center gap-1.5 rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-brand-800 disabled:opacity-50",
  "tool-secondary":
    "inline-flex items-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100 dark:hover:bg-ink-800",
  "tool-small":
    "inline-flex items-center rounded-md border border-slate-300 bg-white px-2 py-1 text-xs font-medium text-slate-800 hover:bg-slate-50 disabled:opacity-50 dark:border-ink-700 dark:bg-ink-900 dark:text-slate-100 dark:hover:bg-ink-800",
  "tool-danger": "rounded-md bg-red-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-red-800",
};

export type ButtonSize = keyof typeof sizes;
type Variant = keyof typeof sized | keyof typeof fixed;
/** A look: the page buttons come in sizes, the rest have one. */
export type ButtonLook = { variant: keyof typeof sized; size?: ButtonSize } | { variant: keyof typeof fixed; size?: never };

const isFixed = (variant: Variant): variant is keyof typeof fixed => variant in fixed;

function classes(variant: Variant, size: ButtonSize = "md"): string {
  return isFixed(variant) ? fixed[variant] : `${sized[variant]} ${sizes[size]}`;
}

/** The classes of a look, for a link that should look like a button; `extra` is for layout (margins, width). */
export function buttonClass(look: ButtonLook, extra?: string): string {
  return extra ? `${classes(look.variant, look.size)} ${extra}` : classes(look.variant, look.size);
}

export type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, "type"> & ButtonLook & { type: "button" | "submit" };

export function Button({ variant, size, className, type, ...props }: ButtonProps) {
  return <button type={type} className={className ? `${classes(variant, size)} ${className}` : classes(variant, size)} {...props} />;
}

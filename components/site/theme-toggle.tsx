"use client";

import { useSyncExternalStore } from "react";
import { storageChanged, subscribeStorage } from "@/components/ui/local-storage";

type Theme = "light" | "dark" | "system";
const next: Record<Theme, Theme> = { system: "light", light: "dark", dark: "system" };
const labels: Record<Theme, string> = { system: "System theme", light: "Light theme", dark: "Dark theme" };
const icons: Record<Theme, string> = { system: "◐", light: "☀", dark: "☾" };

function apply(theme: Theme) {
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.classList.toggle("dark", dark);
}

function read(): Theme {
  const saved = localStorage.getItem("theme");
  return saved === "light" || saved === "dark" ? saved : "system";
}

export function ThemeToggle() {
  const theme = useSyncExternalStore(subscribeStorage, read, () => "system" as Theme);

  function cycle() {
    const chosen = next[theme];
    if (chosen === "system") localStorage.removeItem("theme");
    else localStorage.setItem("theme", chosen);
    apply(chosen);
    storageChanged();
  }

  return (
    <button
      type="button"
      onClick={cycle}
      aria-label={`${labels[theme]} (switch to ${labels[next[theme]].toLowerCase()})`}
      title={labels[theme]}
      className="grid h-9 w-9 place-items-center rounded-md border border-slate-200 text-lg text-slate-700 hover:bg-slate-100 dark:border-ink-700 dark:text-slate-200 dark:hover:bg-ink-800"
    >
      <span aria-hidden="true">{icons[theme]}</span>
    </button>
  );
}

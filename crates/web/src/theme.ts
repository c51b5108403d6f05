// Light, dark or the system's choice, kept in this browser.

export type Theme = "light" | "dark" | "system";

export function storedTheme(): Theme {
  const value = localStorage.getItem("tabletalk.theme");
  return value === "light" || value === "dark" ? value : "system";
}

export function applyTheme(theme: Theme): void {
  localStorage.setItem("tabletalk.theme", theme);
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

/**
 * A supervised child stops when its launcher dies without telling it (SIGKILL, a killed
 * terminal), so no web or runner process outlives `npm start`.
 */
export function exitWhenOrphaned(onOrphaned: () => void): void {
  if (process.env.FAULTLINE_SUPERVISED !== "1") return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) onOrphaned();
  }, 1000).unref();
}

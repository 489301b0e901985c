/**
 * Assertions on recorded history that many labs need: every expected item seen exactly once
 * (no loss, no duplicate effect), with a failure that names the offending items.
 */
import { CheckFailure } from "./result.ts";

export function assertEachOnce(expected: string[], seen: string[], what: { noun: string; hintLost: string; hintDuplicate: string }): void {
  const counts = new Map<string, number>();
  for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
  if (duplicated.length > 0) {
    throw new CheckFailure({ message: `${duplicated.length} ${what.noun}(s) took effect more than once.`, expected: `each of the ${expected.length} exactly once`, actual: duplicated.slice(0, 10).join(", "), hint: what.hintDuplicate });
  }
  const lost = expected.filter((id) => !counts.has(id));
  if (lost.length > 0) {
    throw new CheckFailure({ message: `${lost.length} ${what.noun}(s) never took effect.`, expected: `all ${expected.length}`, actual: `missing: ${lost.slice(0, 10).join(", ")}`, hint: what.hintLost });
  }
}

/**
 * Reading what another process wrote, leniently: the browser reads run events that a newer (or
 * broken) server may have shaped differently, and one bad item must cost that item, not the view.
 */
import { z } from "zod";

/** An array of `item`: anything else reads as empty, and items that do not parse are dropped. */
export function lenientArray<T extends z.ZodType>(item: T) {
  return z
    .array(z.unknown())
    .catch([])
    .transform((items) =>
      items.flatMap((raw) => {
        const parsed = item.safeParse(raw);
        return parsed.success ? [parsed.data as z.output<T>] : [];
      }),
    );
}

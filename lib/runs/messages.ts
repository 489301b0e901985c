/**
 * What a cancelled run says, in one place for the server (the `cancelled` event, the stored row)
 * and the browser (a cancel it shows before the server's event arrives). No server-only imports.
 */

/** The learner pressed Cancel (or left the page while the run was starting). */
export const CANCELLED_BY_LEARNER = "Cancelled: you stopped this run.";
/** The learner started another run of the same lab, which replaces this one. */
export const CANCELLED_SUPERSEDED = "Cancelled: you started a newer run.";
/** A cancelled run whose reason was not recorded (a row from an older version). */
export const CANCELLED = "This run was cancelled.";

/** Shown for a wrong email or a wrong password alike, so it never reveals which accounts exist. */
export const INVALID_CREDENTIALS = "Email or password is incorrect.";

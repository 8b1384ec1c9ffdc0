// The exit codes of sysexits.h, which sendmail(8) returns and the programs that run it read:
// 0 means the message is taken care of (sent, or spooled to be sent), 75 means "try again".
export const EX_OK = 0
/** The command line was wrong. */
export const EX_USAGE = 64
/** The input message was unusable. */
export const EX_DATAERR = 65
/** A recipient address does not exist (a 5.1.x refusal). */
export const EX_NOUSER = 67
/** The server refused the message for good. */
export const EX_UNAVAILABLE = 69
/** A bug. */
export const EX_SOFTWARE = 70
/** The message could not be spooled (a full disk, a permission): the caller should retry. */
export const EX_TEMPFAIL = 75
/** The config file is missing something, unreadable or readable by others. */
export const EX_CONFIG = 78

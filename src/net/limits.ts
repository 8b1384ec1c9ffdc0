/**
 * Bounds of the connection plumbing. Each protocol sets its own line limits from its RFC; these
 * are the ones that hold whatever the protocol is.
 */

/**
 * Octets the reader holds before it stops reading the socket (TCP flow control then slows the
 * peer). Large enough for a burst of pipelined commands, small enough that 5,000 connections
 * that each fill it cost little.
 */
export const READ_HIGH_WATER_OCTETS = 256 * 1024

/** A TLS handshake (STARTTLS or implicit) that takes longer than this is abandoned. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000

/** How long a closing connection waits for its last reply to drain and the peer to close. */
export const CLOSE_TIMEOUT_MS = 5_000

/**
 * The slowest a message body (SMTP DATA or BDAT, an IMAP literal) may arrive once its deadline
 * is spent: each octet buys 2 ms. Postfix's smtpd_min_data_rate, 4 kbit/s: a 25 MiB message
 * takes hours at that pace, and a slowloris at one octet a second gets nowhere.
 */
export const MIN_DATA_OCTETS_PER_SECOND = 500

/**
 * The scheduler interface shared by HTTP and TCP. Schedulers are pure: the candidates, their
 * effective weights and live counts come in through `PickContext`; no clock or randomness inside.
 */

export interface Candidate {
  /** Stable identity (the server key `address|port`). */
  readonly key: string;
  /** Effective weight right now (> 0; the caller filters out unusable servers). */
  readonly weight: number;
  /** Requests or connections this process has in flight to the server (for wlc). */
  readonly active: number;
}

export interface PickContext {
  /** Usable servers only, in configuration order. */
  readonly candidates: readonly Candidate[];
  /** The client address (for source-ip). */
  readonly clientIp: string;
  /**
   * Set when every candidate has this weight: a scheduler may use it instead of reading each
   * candidate's (same result, no walk over the candidate objects).
   */
  readonly uniformWeight?: number | undefined;
}

export interface Scheduler {
  /** The chosen candidate's index, or -1 when there is none. */
  pick(ctx: PickContext): number;
}

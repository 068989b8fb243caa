import type { StampDropReason } from "@llama/core";

/**
 * Why a STAMP request was not answered: the codec's reasons, and the reflector's refusals (the
 * same as the LLAMA port's: see `RefusalReason`).
 */
export type StampNotAnsweredReason =
  | StampDropReason
  | "not-allowed"
  | "source-port"
  | "per-source-rate"
  | "per-source-table-full"
  | "throttled";

/** The STAMP port's counters since it started. */
export interface StampCounters {
  /** Datagrams received on the STAMP port. */
  received: number;
  /** Replies sent. */
  answered: number;
  /** Datagrams not answered, by reason. */
  dropped: Record<StampNotAnsweredReason, number>;
  /** Failed sends. */
  sendErrors: number;
  /** Sessions a stateful reflector holds now. */
  sessions: number;
  /** Sources the STAMP port's per-source table tracks now (0 without `--per-source-pps`). */
  perSourceTracked: number;
}

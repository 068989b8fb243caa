/**
 * STAMP, the Simple Two-Way Active Measurement Protocol (RFC 8762) with its optional extensions
 * (RFC 8972): the Session-Sender's test packets, a Session-Reflector, and a reader for its
 * replies, all pure (no sockets), unauthenticated (44-byte base packet) and authenticated (112
 * bytes, HMAC-SHA-256 truncated to 16 bytes). TWAMP-Light test packets (RFC 5357 Appendix I)
 * share the unauthenticated layout and are answered alike. The byte layouts are in
 * `docs/stamp.md`.
 *
 * @module
 */
export {
  STAMP_AUTHENTICATED_BYTES,
  STAMP_HMAC_BYTES,
  STAMP_PORT,
  STAMP_UNAUTHENTICATED_BYTES,
} from "./_stamp_layout.ts";
export {
  decodeErrorEstimate,
  encodeErrorEstimate,
  type ErrorEstimate,
  errorEstimateSeconds,
  isPtpErrorEstimate,
  readStampTimestamp,
  writeStampTimestamp,
} from "./stamp_time.ts";
export {
  type StampRawTlv,
  StampTestPacketWriter,
  type StampTlvOptions,
  type StampWriterOptions,
} from "./stamp_writer.ts";
export {
  STAMP_DROP_REASONS,
  type StampDropReason,
  type StampMode,
  type StampReceiveMeta,
  StampReflector,
  type StampReflectorOptions,
} from "./stamp_reflector.ts";
export {
  type StampHmacTlvState,
  StampReplyReader,
  type StampReplyRejection,
} from "./stamp_reader.ts";

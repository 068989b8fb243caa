// Byte offsets of the STAMP test packets, RFC 8762 section 4 with the Session Sender Identifier
// (SSID) of RFC 8972 section 3 in place of the first MBZ octets. TWAMP-Light (RFC 5357 Appendix
// I, RFC 4656 section 4.1.2) has the same unauthenticated layout, without the SSID.

/** The registered STAMP port (RFC 8762 section 4.1.1). */
export const STAMP_PORT = 862;
/** Bytes of an unauthenticated STAMP test packet without TLVs, sender's and reflector's alike. */
export const STAMP_UNAUTHENTICATED_BYTES = 44;
/** Bytes of an authenticated STAMP test packet without TLVs, sender's and reflector's alike. */
export const STAMP_AUTHENTICATED_BYTES = 112;
/** Bytes of the truncated HMAC-SHA-256 in the base packet and in the HMAC TLV. */
export const STAMP_HMAC_BYTES = 16;

/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

// Session-Sender, unauthenticated (RFC 8762 Figure 2, RFC 8972 Figure 1).
export const U_SEQUENCE = 0;
export const U_TIMESTAMP = 4;
export const U_ERROR_ESTIMATE = 12;
export const U_SSID = 14;
// Session-Reflector, unauthenticated (RFC 8762 Figure 4, RFC 8972 Figure 3): the first four
// fields as the sender's, then:
export const U_RECEIVE_TIMESTAMP = 16;
export const U_SENDER_SEQUENCE = 24;
export const U_SENDER_TIMESTAMP = 28;
export const U_SENDER_ERROR_ESTIMATE = 36;
export const U_SENDER_TTL = 40;

// Session-Sender, authenticated (RFC 8762 Figure 3, RFC 8972 Figure 2).
export const A_SEQUENCE = 0;
export const A_TIMESTAMP = 16;
export const A_ERROR_ESTIMATE = 24;
export const A_SSID = 26;
export const A_HMAC = 96;
// Session-Reflector, authenticated (RFC 8762 Figure 5, RFC 8972 Figure 4).
export const A_RECEIVE_TIMESTAMP = 32;
export const A_SENDER_SEQUENCE = 48;
export const A_SENDER_TIMESTAMP = 64;
export const A_SENDER_ERROR_ESTIMATE = 72;
export const A_SENDER_TTL = 80;

// RFC 8972 section 4: every TLV starts with Flags (8 bits), Type (8 bits), Length (16 bits, of
// the value). Flags: U (unrecognized), M (malformed), I (integrity failed), five reserved bits.
export const TLV_HEADER_BYTES = 4;
export const TLV_FLAG_UNRECOGNIZED = 0x80;
export const TLV_FLAG_MALFORMED = 0x40;
export const TLV_FLAG_INTEGRITY = 0x20;

// TLV types (RFC 8972 section 5.1, IANA "STAMP TLV Types").
export const TLV_EXTRA_PADDING = 1;
export const TLV_LOCATION = 2;
export const TLV_TIMESTAMP_INFORMATION = 3;
export const TLV_CLASS_OF_SERVICE = 4;
export const TLV_DIRECT_MEASUREMENT = 5;
export const TLV_ACCESS_REPORT = 6;
export const TLV_FOLLOW_UP_TELEMETRY = 7;
export const TLV_HMAC = 8;

/** Value bytes of the Timestamp Information and Class of Service TLVs. */
export const TLV_FOUR_BYTE_VALUE = 4;

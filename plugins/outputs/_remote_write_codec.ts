// The body of a Prometheus remote_write 1.0 request: a `prometheus.WriteRequest` protobuf message,
// compressed with snappy's block format (not its framing format). Encoding is protobufjs's and
// snappyjs's; this file only describes the four messages of Prometheus's remote.proto and
// types.proto that we send, the way `protoc` would, as a descriptor.
import protobuf from "protobufjs";
import snappy from "snappyjs";

/** One label of a series. */
export interface RemoteLabel {
  /** `__name__` or a label name. */
  name: string;
  /** Its value; never empty (Prometheus treats an empty label as absent). */
  value: string;
}

/** One sample of a series. */
export interface RemoteSample {
  /** The value. */
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/** A series with its samples, labels sorted by name as remote_write requires. */
export interface RemoteSeries {
  /** The labels, `__name__` included, sorted by name. */
  labels: RemoteLabel[];
  /** The samples, oldest first. */
  samples: RemoteSample[];
}

/** Field numbers and types from prometheus/prompb/remote.proto and types.proto. */
const DESCRIPTOR = {
  nested: {
    prometheus: {
      nested: {
        WriteRequest: {
          fields: { timeseries: { rule: "repeated", type: "TimeSeries", id: 1 } },
        },
        TimeSeries: {
          fields: {
            labels: { rule: "repeated", type: "Label", id: 1 },
            samples: { rule: "repeated", type: "Sample", id: 2 },
          },
        },
        Label: { fields: { name: { type: "string", id: 1 }, value: { type: "string", id: 2 } } },
        Sample: {
          fields: { value: { type: "double", id: 1 }, timestamp: { type: "int64", id: 2 } },
        },
      },
    },
  },
};

/** The `WriteRequest` message type, built once: a read-only description, not state. */
const WRITE_REQUEST = protobuf.Root.fromJSON(DESCRIPTOR).lookupType("prometheus.WriteRequest");

/** snappyjs ships no types; these are the two functions of its documented API. */
const blockFormat = snappy as {
  compress(input: Uint8Array): Uint8Array<ArrayBuffer>;
  uncompress(input: Uint8Array, maxLength?: number): Uint8Array<ArrayBuffer>;
};

/** The snappy-compressed `WriteRequest` carrying `series`. */
export function encodeWriteRequest(series: readonly RemoteSeries[]): Uint8Array<ArrayBuffer> {
  const message = WRITE_REQUEST.fromObject({ timeseries: series });
  return blockFormat.compress(WRITE_REQUEST.encode(message).finish());
}

/** The series of a snappy-compressed `WriteRequest` (for tests, and to read what was sent). */
export function decodeWriteRequest(body: Uint8Array): RemoteSeries[] {
  const message = WRITE_REQUEST.decode(blockFormat.uncompress(body));
  const object = WRITE_REQUEST.toObject(message, { longs: Number, defaults: true }) as {
    timeseries?: RemoteSeries[];
  };
  return object.timeseries ?? [];
}

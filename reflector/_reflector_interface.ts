import type { SocketAddress } from "@llama/core";
import type { ReflectorCounters } from "./answerer.ts";

/** A running reflector. */
export interface Reflector extends AsyncDisposable {
  /** The address it listens on, with the real port. */
  readonly address: SocketAddress;
  /** The STAMP port's address, when it has one. */
  readonly stampAddress?: SocketAddress;
  /** The socket implementation in use. */
  readonly engine: string;
  /** Whether the receive loop runs on a Worker of its own (native engine) rather than the event loop. */
  readonly ownThread: boolean;
  /** A snapshot of the counters. */
  counters(): ReflectorCounters;
  /** Settles when the reflector has stopped: resolves after `close()`, rejects on a fatal error. */
  readonly finished: Promise<void>;
  /** Stops receiving, waits for pending answers, closes the socket. */
  close(): Promise<void>;
}

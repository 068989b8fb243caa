// Errors in log properties across the Worker boundary. A structured clone keeps an error's
// message, stack and cause, but turns a SocketError into a plain Error and drops its fields
// (`code`, `operation`), which JSON logs carry; so errors cross as data and become errors again.

/** An error as data: everything a log line shows of it. */
export interface ErrorData {
  name: string;
  message: string;
  stack: string | undefined;
  /** The cause, when it is an error. */
  cause?: ErrorData;
  /** The cause, when it is anything else. */
  causeValue?: unknown;
  /** The error's own fields, such as a SocketError's `code`. */
  fields: Record<string, unknown>;
}

/** Log properties split for posting: the errors among them as data, the rest as they are. */
export interface PostedProperties {
  properties: Record<string, unknown>;
  errors: Record<string, ErrorData>;
}

/** Splits `properties` into the errors, as data, and the rest. */
export function postedProperties(properties: Record<string, unknown>): PostedProperties {
  const posted: PostedProperties = { properties: {}, errors: {} };
  for (const [key, value] of Object.entries(properties)) {
    if (value instanceof Error) posted.errors[key] = errorData(value, 0);
    else posted.properties[key] = value;
  }
  return posted;
}

/** The properties `postedProperties` split, with the errors made errors again. */
export function receivedProperties(posted: PostedProperties): Record<string, unknown> {
  const properties: Record<string, unknown> = { ...posted.properties };
  for (const [key, data] of Object.entries(posted.errors)) properties[key] = errorOf(data);
  return properties;
}

function errorData(error: Error, depth: number): ErrorData {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key !== "cause" && isPrimitive(value)) fields[key] = value;
  }
  const data: ErrorData = { name: error.name, message: error.message, stack: error.stack, fields };
  // A cause chain may loop back on itself; a few levels are all a log line needs.
  if (error.cause instanceof Error && depth < 5) data.cause = errorData(error.cause, depth + 1);
  else if (error.cause !== undefined && !(error.cause instanceof Error)) {
    data.causeValue = isPrimitive(error.cause) ? error.cause : String(error.cause);
  }
  return data;
}

/** Whether `value` surely survives a structured clone (an object might hold a function). */
function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function" &&
    typeof value !== "symbol");
}

function errorOf(data: ErrorData): Error {
  const cause = data.cause !== undefined ? errorOf(data.cause) : data.causeValue;
  const error = new Error(data.message, cause === undefined ? undefined : { cause });
  error.name = data.name;
  error.stack = data.stack;
  return Object.assign(error, data.fields);
}

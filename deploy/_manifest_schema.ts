// A minimal, closed schema of the Kubernetes objects deploy/kubernetes uses: the fields the API
// requires, their types, and no field it does not know (a typo such as `livenesProbe` would be
// silently dropped by an apply; here it fails). Only the fields our manifests need are listed.

/** A value's expected shape: a scalar kind, a list of one shape, or an object's fields. */
export type Shape =
  | "string"
  | "int"
  | "bool"
  | "labels"
  | "quantity"
  | "port"
  | "intOrString"
  | "empty"
  | Shape[]
  | { fields: Record<string, Shape>; required?: string[] };

const obj = (fields: Record<string, Shape>, required: string[] = []): Shape => ({
  fields,
  required,
});

const META = obj({ name: "string", namespace: "string", labels: "labels", annotations: "labels" }, [
  "name",
]);
const RESOURCES = obj({ requests: "labels", limits: "labels" });
const PROBE = obj({
  httpGet: obj({ path: "string", port: "intOrString", scheme: "string" }, ["port"]),
  initialDelaySeconds: "int",
  periodSeconds: "int",
  timeoutSeconds: "int",
  failureThreshold: "int",
  successThreshold: "int",
});
const CONTAINER = obj({
  name: "string",
  image: "string",
  command: ["string"],
  args: ["string"],
  env: [obj({
    name: "string",
    value: "string",
    valueFrom: obj({ fieldRef: obj({ fieldPath: "string" }, ["fieldPath"]) }),
  }, ["name"])],
  ports: [obj({
    name: "string",
    containerPort: "port",
    hostPort: "port",
    protocol: "string",
  }, ["containerPort"])],
  livenessProbe: PROBE,
  readinessProbe: PROBE,
  resources: RESOURCES,
  securityContext: obj({
    allowPrivilegeEscalation: "bool",
    readOnlyRootFilesystem: "bool",
    capabilities: obj({ drop: ["string"], add: ["string"] }),
  }),
  volumeMounts: [obj({ name: "string", mountPath: "string", readOnly: "bool" }, [
    "name",
    "mountPath",
  ])],
}, ["name", "image"]);
const POD_SPEC = obj({
  hostNetwork: "bool",
  dnsPolicy: "string",
  tolerations: [obj({ operator: "string", key: "string", effect: "string" })],
  securityContext: obj({
    runAsNonRoot: "bool",
    runAsUser: "int",
    runAsGroup: "int",
    fsGroup: "int",
    seccompProfile: obj({ type: "string" }, ["type"]),
  }),
  containers: [CONTAINER],
  volumes: [obj({
    name: "string",
    emptyDir: "empty",
    configMap: obj({
      name: "string",
      items: [obj({ key: "string", path: "string" }, ["key", "path"])],
    }, ["name"]),
    persistentVolumeClaim: obj({ claimName: "string" }, ["claimName"]),
  }, ["name"])],
}, ["containers"]);
const TEMPLATE = obj(
  { metadata: obj({ labels: "labels", annotations: "labels" }), spec: POD_SPEC },
  [
    "metadata",
    "spec",
  ],
);
const SELECTOR = obj({ matchLabels: "labels" }, ["matchLabels"]);
const ROLLING = obj({ maxUnavailable: "intOrString", maxSurge: "intOrString" });

/** The shape of each `apiVersion/kind` deploy/kubernetes may contain. */
export const KINDS: Record<string, Shape> = {
  "v1/Namespace": obj({ apiVersion: "string", kind: "string", metadata: META }, ["metadata"]),
  "v1/ConfigMap": obj({ apiVersion: "string", kind: "string", metadata: META, data: "labels" }, [
    "metadata",
  ]),
  "v1/PersistentVolumeClaim": obj({
    apiVersion: "string",
    kind: "string",
    metadata: META,
    spec: obj({
      accessModes: ["string"],
      storageClassName: "string",
      resources: obj({ requests: obj({ storage: "quantity" }, ["storage"]) }, ["requests"]),
    }, ["accessModes", "resources"]),
  }, ["metadata", "spec"]),
  "v1/Service": obj({
    apiVersion: "string",
    kind: "string",
    metadata: META,
    spec: obj({
      clusterIP: "string",
      type: "string",
      selector: "labels",
      ports: [obj({ name: "string", port: "port", targetPort: "intOrString", protocol: "string" }, [
        "port",
      ])],
    }, ["ports"]),
  }, ["metadata", "spec"]),
  "apps/v1/DaemonSet": obj({
    apiVersion: "string",
    kind: "string",
    metadata: META,
    spec: obj({
      selector: SELECTOR,
      template: TEMPLATE,
      updateStrategy: obj({ type: "string", rollingUpdate: ROLLING }),
    }, ["selector", "template"]),
  }, ["metadata", "spec"]),
  "apps/v1/Deployment": obj({
    apiVersion: "string",
    kind: "string",
    metadata: META,
    spec: obj({
      replicas: "int",
      selector: SELECTOR,
      template: TEMPLATE,
      strategy: obj({ type: "string", rollingUpdate: ROLLING }),
    }, ["selector", "template"]),
  }, ["metadata", "spec"]),
};

/**
 * Every way `value` departs from `shape`, as `where: what` lines (empty when it fits). `where` is
 * the path so far, such as `collector.yaml DaemonSet/llama-collector spec.template`.
 */
export function shapeErrors(value: unknown, shape: Shape, where: string): string[] {
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${where}: expected a list`];
    return value.flatMap((item, index) => shapeErrors(item, shape[0], `${where}[${index}]`));
  }
  if (typeof shape === "object") {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return [`${where}: expected an object`];
    }
    const record = value as Record<string, unknown>;
    const errors = (shape.required ?? []).filter((key) => !(key in record))
      .map((key) => `${where}: ${key} is required`);
    for (const [key, item] of Object.entries(record)) {
      const field = shape.fields[key];
      if (field === undefined) errors.push(`${where}: unknown field ${key}`);
      else errors.push(...shapeErrors(item, field, `${where}.${key}`));
    }
    return errors;
  }
  return scalarError(value, shape, where);
}

function scalarError(value: unknown, shape: string, where: string): string[] {
  const ok = shape === "string"
    ? typeof value === "string"
    : shape === "int"
    ? Number.isInteger(value)
    : shape === "bool"
    ? typeof value === "boolean"
    : shape === "port"
    ? Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535
    : shape === "intOrString"
    ? Number.isInteger(value) || typeof value === "string"
    : shape === "quantity"
    ? typeof value === "string" && /^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.test(value)
    : shape === "empty"
    ? typeof value === "object" && value !== null && Object.keys(value).length === 0
    : typeof value === "object" && value !== null && !Array.isArray(value) &&
      Object.values(value).every((item) => typeof item === "string");
  return ok ? [] : [`${where}: expected ${shape === "labels" ? "a map of strings" : shape}`];
}

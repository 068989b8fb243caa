// deploy/kubernetes: every object fits a closed schema of the fields Kubernetes takes, and the
// objects fit each other (selectors, ports, ConfigMaps, volumes, the DNS names the configs name),
// the ConfigMaps' configs load with the programs' own parsers, and the flags are the programs'.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { parseCollectorConfig } from "../collector/mod.ts";
import { parseScraperConfig } from "../scraper/mod.ts";
import { KINDS, shapeErrors } from "./_manifest_schema.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIRECTORY = `${ROOT}deploy/kubernetes`;
// deno-lint-ignore no-explicit-any
type K8s = any;

function manifestFiles(): string[] {
  return [...Deno.readDirSync(DIRECTORY)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".yaml") && name !== "kustomization.yaml").sort();
}

function load(): { file: string; object: K8s }[] {
  return manifestFiles().flatMap((file) =>
    parseAllDocuments(Deno.readTextFileSync(`${DIRECTORY}/${file}`)).map((document) => {
      assert.deepEqual(document.errors, [], file);
      return { file, object: document.toJS() };
    })
  );
}

function find(kind: string, name: string): K8s {
  const found = load().find(({ object }) => object.kind === kind && object.metadata.name === name);
  assert.ok(found, `no ${kind} named ${name}`);
  return found.object;
}

const workloads = () =>
  load().map(({ object }) => object).filter((o) => ["DaemonSet", "Deployment"].includes(o.kind));
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

Deno.test("every object fits the schema of its kind and the kustomization lists every file", () => {
  const objects = load();
  assert.ok(objects.length >= 9, `${objects.length} objects`);
  for (const { file, object } of objects) {
    const kind = `${object.apiVersion}/${object.kind}`;
    const shape = KINDS[kind];
    assert.ok(shape, `${file}: ${kind} is not a kind we check`);
    assert.deepEqual(shapeErrors(object, shape, `${file} ${object.kind}`), []);
  }
  const kustomization = parseAllDocuments(
    Deno.readTextFileSync(`${DIRECTORY}/kustomization.yaml`),
  )[0].toJS();
  assert.deepEqual([...kustomization.resources].sort(), manifestFiles());
});

Deno.test("the schema check reports unknown fields, missing ones and wrong types", () => {
  const daemonSet = find("DaemonSet", "llama-reflector");
  const container = daemonSet.spec.template.spec.containers[0];
  container.livenesProbe = container.livenessProbe;
  delete container.image;
  container.ports[0].containerPort = 70000;
  assert.deepEqual(shapeErrors(daemonSet, KINDS["apps/v1/DaemonSet"], "ds"), [
    "ds.spec.template.spec.containers[0]: image is required",
    "ds.spec.template.spec.containers[0].ports[0].containerPort: expected port",
    "ds.spec.template.spec.containers[0]: unknown field livenesProbe",
  ]);
});

Deno.test("every namespaced object is in the llama namespace, which namespace.yaml creates", () => {
  assert.equal(find("Namespace", "llama").metadata.namespace, undefined);
  for (const { file, object } of load()) {
    if (object.kind !== "Namespace") assert.equal(object.metadata.namespace, "llama", file);
  }
});

Deno.test("workloads: selectors, named ports, probes on /status, volumes and ConfigMaps agree", () => {
  for (const workload of workloads()) {
    const where = `${workload.kind}/${workload.metadata.name}`;
    const pod = workload.spec.template.spec;
    assert.ok(matches(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels));
    const volumes = new Map<string, K8s>(pod.volumes.map((v: K8s) => [v.name, v]));
    const mounted = new Set<string>();
    for (const container of pod.containers) {
      const ports = new Map<string, K8s>(container.ports.map((p: K8s) => [p.name, p]));
      for (const port of container.ports) {
        assert.match(port.name, /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, `${where} port name`);
        if (pod.hostNetwork) assert.equal(port.hostPort, port.containerPort, `${where} hostPort`);
      }
      for (const probe of [container.livenessProbe, container.readinessProbe]) {
        assert.equal(probe.httpGet.path, "/status", where);
        assert.equal(ports.get(probe.httpGet.port)?.protocol, "TCP", `${where}: probe port`);
      }
      assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"], where);
      assert.equal(container.securityContext.capabilities.add, undefined, where);
      for (const mount of container.volumeMounts) {
        assert.ok(volumes.has(mount.name), `${where}: mount of no volume ${mount.name}`);
        mounted.add(mount.name);
      }
    }
    assert.deepEqual([...mounted].sort(), [...volumes.keys()].sort(), `${where}: unused volume`);
    for (const volume of volumes.values()) {
      if (volume.configMap) {
        const data = find("ConfigMap", volume.configMap.name).data;
        for (const item of volume.configMap.items) assert.ok(item.key in data, item.key);
      }
      if (volume.persistentVolumeClaim) {
        find("PersistentVolumeClaim", volume.persistentVolumeClaim.claimName);
      }
    }
  }
});

Deno.test("every Service selects one workload and targets a port it names, same protocol", () => {
  for (const { object: service } of load().filter(({ object }) => object.kind === "Service")) {
    const selected = workloads().filter((w) =>
      matches(service.spec.selector, w.spec.template.metadata.labels)
    );
    assert.equal(selected.length, 1, `Service/${service.metadata.name}`);
    const ports = selected[0].spec.template.spec.containers.flatMap((c: K8s) => c.ports);
    for (const port of service.spec.ports) {
      const target = ports.find((p: K8s) => p.name === port.targetPort);
      assert.ok(target, `Service/${service.metadata.name}: no port ${port.targetPort}`);
      assert.equal(target.protocol, port.protocol);
      assert.equal(target.containerPort, port.port, "the Service's port is the program's");
    }
  }
});

/** The container's shell script (for `sh -c`), or its command and args as one line. */
function script(name: string): string {
  const container = workloads().find((w) => w.metadata.name === name).spec.template.spec
    .containers[0];
  return [...container.command, ...container.args].join(" ");
}

function servicePort(name: string, portName: string): number {
  return find("Service", name).spec.ports.find((p: K8s) => p.name === portName).port;
}

Deno.test("the collector's ConfigMap loads, on the API port, probing the reflectors' Service", () => {
  const text = find("ConfigMap", "llama-collector").data["collector.yaml"];
  assert.match(script("llama-collector"), /sed "s\/__NODE_NAME__\/\$NODE_NAME\/g" \/etc\/llama\//);
  const config = parseCollectorConfig(text.replaceAll("__NODE_NAME__", "node-1"), {
    file: "collector.yaml",
  });
  assert.equal(config.sourceTags.src_hostname, "node-1");
  assert.equal(config.api.bind.port, servicePort("llama-collector", "api"));
  const sources = Object.values(config.discovery ?? {});
  assert.deepEqual(sources.map(({ kind, source, port }) => ({ kind, source, port })), [{
    kind: "dns",
    source: "llama-reflector.llama.svc.cluster.local",
    port: servicePort("llama-reflector", "llama"),
  }]);
  assert.equal(find("Service", "llama-reflector").spec.clusterIP, "None", "one record a node");
  assert.match(script("llama-reflector"), new RegExp(`--port 8100 `));
});

Deno.test("the scraper's ConfigMap loads with the collectors its start script finds", () => {
  const text = find("ConfigMap", "llama-scraper").data["scraper.yaml"];
  const start = script("llama-scraper");
  const port = servicePort("llama-collector", "api");
  assert.ok(start.includes(`getent ahostsv4 llama-collector.llama.svc.cluster.local`), start);
  assert.ok(start.includes(`":${port}"`), start);
  assert.ok(start.includes(`s/__COLLECTORS__/[$collectors]/`), start);
  const config = parseScraperConfig(
    text.replace("__COLLECTORS__", `[10.0.0.1:${port},10.0.0.2:${port}]`),
    { file: "scraper.yaml" },
  );
  assert.deepEqual(config.collectors.map((c) => c.url.href), [
    `http://10.0.0.1:${port}/`,
    `http://10.0.0.2:${port}/`,
  ]);
  assert.ok(start.includes("--data-dir /var/lib/llama-scraper"));
  const mounts = workloads().find((w) => w.metadata.name === "llama-scraper").spec.template.spec
    .containers[0].volumeMounts;
  assert.ok(
    mounts.some((m: K8s) => m.name === "spool" && m.mountPath === "/var/lib/llama-scraper"),
  );
  assert.equal(find("Deployment", "llama-scraper").spec.strategy.type, "Recreate");
});

Deno.test("every program a manifest runs is in the image, with flags its --help lists", async () => {
  const containerfile = Deno.readTextFileSync(`${ROOT}deploy/container/Containerfile`);
  const ci = Deno.readTextFileSync(`${ROOT}.ci/run`);
  const version = /^deno_version=(\S+)$/m.exec(ci)?.[1];
  assert.ok(version && containerfile.includes(`FROM docker.io/denoland/deno:${version}\n`));
  for (const program of ["reflector", "collector", "scraper"]) {
    assert.ok(containerfile.includes(`deploy/container/llama-${program}`), program);
    const line = script(`llama-${program}`);
    const words = line.slice(line.indexOf(`llama-${program} `)).split(/\s+/);
    const flags = words.filter((word) => word.startsWith("--"));
    assert.ok(flags.length > 0, line);
    const help = await new Deno.Command(`${ROOT}deploy/container/llama-${program}`, {
      args: ["--help"],
      env: { LLAMA_HOME: ROOT.replace(/\/$/, ""), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const usage = new TextDecoder().decode(help.stdout) + new TextDecoder().decode(help.stderr);
    assert.equal(help.code, 0, usage);
    const known = new Set(usage.match(/--[a-z][a-z0-9.-]*/g) ?? []);
    for (const flag of flags) assert.ok(known.has(flag), `llama-${program}: ${flag}`);
  }
});

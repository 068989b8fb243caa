// The reflector's STAMP port over real sockets, against tests/stamp_reference.py (a STAMP
// sender and reflector written from the RFC, not from llama's code), and tshark's decoder.
import assert from "node:assert/strict";
import {
  nativeEngineStatus,
  parseKeyFile,
  StampReplyReader,
  StampTestPacketWriter,
} from "@llama/core";
import { startProgram } from "./_process.ts";
import { freeUdpPort, UdpClient } from "./_udp.ts";
import { assertRequirement, requirement } from "./_requirements.ts";

const REFERENCE = new URL("./stamp_reference.py", import.meta.url).pathname;
const STAMP_READY = /Answering STAMP on udp:\/\/127\.0\.0\.1:(\d+)/;
const KEY_LINE = "lab 6c6c616d612d7374616d702d746573742d6b6579\n";
const OTHER_KEY_LINE = "lab 00000000000000000000000000000000\n";
const nativeIgnored = !nativeEngineStatus().available && Deno.env.get("CI") !== "true";

interface ReferenceLine {
  event: string;
  sender_seq?: number;
  reflector_seq?: number;
  ttl?: number;
  hmac_verified?: boolean | null;
  length?: number;
  t1?: number;
  t2?: number;
  t3?: number;
  t4?: number;
  port?: number;
  received?: number;
}

async function keyFile(line: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".keys" });
  await Deno.writeTextFile(path, line);
  return path;
}

async function referenceSend(port: number, args: string[]): Promise<ReferenceLine[]> {
  const output = await new Deno.Command("python3", {
    args: [
      REFERENCE,
      "send",
      "--to",
      `127.0.0.1:${port}`,
      "--json",
      "--interval",
      "0.002",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim().split("\n").map((line) => JSON.parse(line));
}

async function startStampReflector(engine: string, extra: string[]) {
  const stampPort = String(freeUdpPort());
  const reflector = await startProgram(
    "reflector/main.ts",
    ["--host", "127.0.0.1", "--port", "0", "--stamp-port", stampPort, "--engine", engine, ...extra],
    { readyPattern: STAMP_READY },
  );
  return { reflector, port: Number(reflector.ready[1]) };
}

for (const engine of ["native", "deno"]) {
  for (const mode of ["stateless", "stateful"]) {
    for (const authenticated of [false, true]) {
      const name = `[${engine}] the STAMP port answers the Python reference sender: ${mode}, ` +
        `${authenticated ? "authenticated" : "unauthenticated"}`;
      Deno.test({ name, ignore: engine === "native" && nativeIgnored }, async () => {
        const keys = await keyFile(KEY_LINE);
        const wrongKeys = await keyFile(OTHER_KEY_LINE);
        try {
          const { reflector, port } = await startStampReflector(engine, [
            "--stamp-mode",
            mode,
            ...(authenticated ? ["--stamp-key-file", keys] : []),
          ]);
          await using _reflector = reflector;
          const keyArgs = authenticated ? ["--key-file", keys] : [];
          for (const run of [0, 1]) {
            // Each run is a new session (a new source port): a stateful reflector counts from 0.
            const lines = await referenceSend(port, ["--count", "20", "--ssid", "7", ...keyArgs]);
            const replies = lines.filter((line) => line.event === "reply");
            assert.equal(replies.length, 20, `run ${run}: ${JSON.stringify(lines.at(-1))}`);
            for (const [index, reply] of replies.entries()) {
              assert.equal(reply.sender_seq, index);
              assert.equal(reply.reflector_seq, index); // stateful: its own count, from 0 here too
              assert.equal(reply.length, authenticated ? 112 : 44);
              assert.equal(reply.hmac_verified, authenticated ? true : null);
              // The native engine reads the TTL the request arrived with; Deno's cannot.
              assert.equal(reply.ttl, engine === "native" ? 64 : 0);
              assert.ok(reply.t1! <= reply.t2! + 0.001 && reply.t2! <= reply.t3!);
              assert.ok(reply.t3! <= reply.t4! + 0.001);
            }
          }
          {
            // A sender whose numbers start at 1000: a stateless reflector copies them, a
            // stateful one counts its own packets of the session from 0.
            using client = new UdpClient();
            const keyring = authenticated ? parseKeyFile(KEY_LINE) : undefined;
            const writer = new StampTestPacketWriter({ keyring, ssid: 1 });
            const reader = new StampReplyReader();
            for (let sequence = 1000; sequence < 1003; sequence++) {
              writer.write(sequence, Date.now());
              await client.send(writer.bytes, "127.0.0.1", port);
              const reply = await client.receive(3000);
              assert.ok(reply !== undefined && reader.read(reply, reply.length, keyring));
              assert.equal(reader.senderSequence, sequence);
              assert.equal(reader.sequence, mode === "stateful" ? sequence - 1000 : sequence);
            }
          }
          if (authenticated) {
            const lines = await referenceSend(port, [
              "--count",
              "5",
              "--timeout",
              "0.3",
              "--key-file",
              wrongKeys,
            ]);
            assert.equal(
              lines.at(-1)!.received,
              0,
              "packets signed with another key are not answered",
            );
          } else {
            using client = new UdpClient();
            await client.send(new Uint8Array(43), "127.0.0.1", port);
            assert.equal(
              await client.receive(300),
              undefined,
              "a 43-byte datagram is not answered",
            );
          }
          assert.equal((await reflector.stop("SIGTERM")).code, 0, reflector.stderr());
        } finally {
          await Deno.remove(keys);
          await Deno.remove(wrongKeys);
        }
      });
    }
  }
}

Deno.test("llama's STAMP sender and reply reader interoperate with the Python reference reflector", async () => {
  const keys = await keyFile(KEY_LINE);
  const keyring = parseKeyFile(KEY_LINE);
  try {
    for (const authenticated of [false, true]) {
      const child = new Deno.Command("python3", {
        args: [
          REFERENCE,
          "reflect",
          "--port",
          "0",
          "--stateful",
          ...(authenticated ? ["--key-file", keys] : []),
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      try {
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!text.includes("\n")) text += (await reader.read()).value ?? "";
        const port = JSON.parse(text.split("\n")[0]).port as number;
        using client = new UdpClient();
        const writer = new StampTestPacketWriter({
          keyring: authenticated ? keyring : undefined,
          ssid: 3,
        });
        const replyReader = new StampReplyReader();
        for (let sequence = 50; sequence < 55; sequence++) {
          const sentAt = Date.now();
          writer.write(sequence, sentAt);
          await client.send(writer.bytes, "127.0.0.1", port);
          const reply = await client.receive(3000);
          assert.ok(reply !== undefined, "the reference reflector answered");
          assert.ok(
            replyReader.read(reply, reply.length, authenticated ? keyring : undefined),
            replyReader.rejection,
          );
          assert.equal(replyReader.senderSequence, sequence);
          assert.equal(replyReader.sequence, sequence - 50);
          assert.equal(replyReader.ssid, 3);
          assert.equal(replyReader.senderTtl, 64);
          assert.equal(replyReader.hmacVerified, authenticated);
          assert.ok(Math.abs(replyReader.t1 - sentAt) < 0.001);
          assert.ok(Math.abs(replyReader.t2 - sentAt) < 1000 && replyReader.t3 >= replyReader.t2);
        }
        reader.releaseLock();
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await child.stdout.cancel().catch(() => {});
      }
    }
  } finally {
    await Deno.remove(keys);
  }
});

const tshark = requirement({ root: true, commands: ["tshark"] });

Deno.test({
  name: "tshark decodes llama's STAMP replies as TWAMP-Test with the fields llama wrote",
  ignore: tshark.ignore || nativeIgnored,
  async fn() {
    assertRequirement(tshark);
    const { reflector, port } = await startStampReflector("native", []);
    await using _reflector = reflector;
    const capture = new Deno.Command("tshark", {
      args: [
        "-i",
        "lo",
        "-l",
        "-n",
        "-f",
        `udp src port ${port}`,
        "-c",
        "5",
        "-d",
        `udp.port==${port},twamp.test`,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "twamp.test.seq_number",
        "-e",
        "twamp.test.sender_seq_number",
        "-e",
        "twamp.test.sender_ttl",
        "-e",
        "twamp.test.error_estimate",
        "-e",
        "twamp.test.sender_error_estimate",
        "-e",
        "twamp.test.timestamp",
        "-e",
        "twamp.test.receive_timestamp",
        "-e",
        "twamp.test.sender_timestamp",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = collect(capture.stderr);
    const stdout = collect(capture.stdout);
    try {
      // tshark says "Capturing on" once it listens.
      const started = performance.now();
      while (!stderr.text().includes("Capturing on")) {
        assert.ok(performance.now() - started < 20_000, "tshark did not start");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const sentAt = Date.now();
      const lines = await referenceSend(port, ["--count", "5"]);
      assert.equal(lines.filter((line) => line.event === "reply").length, 5);
      await capture.status;
      await stdout.done;
      const rows = stdout.text().trim().split("\n").map((row) => row.split("|"));
      assert.equal(rows.length, 5, stdout.text());
      for (const [index, row] of rows.entries()) {
        const [
          sequence,
          senderSequence,
          ttl,
          errorEstimate,
          senderError,
          sent,
          received,
          senderTime,
        ] = row;
        assert.equal(Number(sequence), index);
        assert.equal(Number(senderSequence), index);
        assert.equal(Number(ttl), 64);
        assert.equal(Number(errorEstimate), 0x1601); // the reflector's default: 1 × 2^-10 s
        assert.equal(Number(senderError), 1); // the reference sender's
        for (const time of [sent, received, senderTime]) {
          const ms = Date.parse(time.replace(/(\.\d{3})\d*/, "$1").replace(/ [A-Z]+$/, "Z"));
          assert.ok(
            Math.abs(ms - sentAt) < 60_000,
            `tshark read "${time}", sent about ${new Date(sentAt).toISOString()}`,
          );
        }
      }
    } finally {
      try {
        capture.kill("SIGTERM");
      } catch { /* exited */ }
      await capture.status;
    }
  },
});

/** Collects a child's output as it arrives. */
function collect(stream: ReadableStream<Uint8Array>): { text(): string; done: Promise<void> } {
  let text = "";
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  })().catch(() => {});
  return { text: () => text, done };
}

/**
 * Authenticated secret GET throughput of a real Strongroom process, against a bare node:https server
 * answering the same bytes and a bare Fastify server (the framework's floor) answering them too, all
 * measured with wrk in this run. Run with `npm run bench:secret-get`.
 */
import "reflect-metadata";
import { type ServerProcess, startServerProcess, tempDataDir } from "../test/support/server-process.js";
import {
  type BareServer,
  expectOk,
  fetchToken,
  formatResult,
  measureAlternating,
  missingPrerequisite,
  send,
  startBareFastifyServer,
  startBareServer,
  type WrkOptions,
  type WrkResult,
} from "./support.js";

const CONNECTIONS = 32;
// One wrk thread leaves the machine's other core to the server; two would compete with it on 2 cores.
const THREADS = 1;
const WARMUP_S = 2;
const ROUND_S = 4;
const ROUNDS = 5;
const TARGET_RATIO = 0.5;
const SECRET_PATH = "/secrets/bench-secret?api-version=7.6";

async function main(): Promise<number> {
  const missing = missingPrerequisite("bench:secret-get");
  if (missing) {
    console.error(missing);
    return 1;
  }

  const data = tempDataDir();
  let strongroom: ServerProcess | undefined;
  let bare: BareServer | undefined;
  let fastify: BareServer | undefined;
  try {
    strongroom = await startServerProcess(data.dir);
    const { admin, ca } = strongroom;
    const origin = `https://127.0.0.1:${strongroom.port}`;
    const url = `${origin}${SECRET_PATH}`;
    const authorization = `Bearer ${await fetchToken(origin, admin, ca)}`;
    const value = JSON.stringify({ value: "x".repeat(64) });
    const headers = { authorization, "content-type": "application/json" };
    expectOk("secret set", await send(url, ca, { method: "PUT", headers, body: value }));
    // wrk sends the same Host, so the baseline serves exactly the bytes Strongroom answers it with.
    const body = expectOk("secret get", await send(url, ca, { headers: { authorization } }));
    bare = await startBareServer(body);
    fastify = await startBareFastifyServer(body);

    console.log(
      `wrk -t${THREADS} -c${CONNECTIONS}, ${WARMUP_S} s warm-up each, then ${ROUNDS} alternating rounds of ${ROUND_S} s; median round`,
    );
    console.log(`GET ${SECRET_PATH}, ${body.length}-byte response`);
    // The baseline gets the same request bytes, token included, though it ignores them.
    const options: WrkOptions = {
      threads: THREADS,
      connections: CONNECTIONS,
      seconds: ROUND_S,
      headers: [`Authorization: ${authorization}`],
    };
    const results = await measureAlternating(
      [
        { name: "strongroom", url, options },
        { name: "bare https", url: `https://127.0.0.1:${bare.port}${SECRET_PATH}`, options },
        { name: "bare fastify", url: `https://127.0.0.1:${fastify.port}${SECRET_PATH}`, options },
      ],
      ROUNDS,
      WARMUP_S,
    );
    const strongroomResult = results.get("strongroom") as WrkResult;
    const bareResult = results.get("bare https") as WrkResult;
    const fastifyResult = results.get("bare fastify") as WrkResult;
    console.log(formatResult("strongroom", strongroomResult));
    console.log(formatResult("bare https", bareResult));
    console.log(formatResult("bare fastify", fastifyResult));
    const ratio = strongroomResult.requestsPerSecond / bareResult.requestsPerSecond;
    console.log(`ratio strongroom/bare: ${ratio.toFixed(2)} (target >= ${TARGET_RATIO})`);
    const floor = fastifyResult.requestsPerSecond / bareResult.requestsPerSecond;
    console.log(`the framework's floor, bare fastify/bare: ${floor.toFixed(2)}`);
    return 0;
  } finally {
    bare?.close();
    fastify?.close();
    await strongroom?.stop();
    data.remove();
  }
}

process.exitCode = await main();

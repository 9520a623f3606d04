// Plays a POS program against posterm's nexo door with the official Adyen Node.js library.
//
// usage: node run.js JOB.json    (prints one JSON line per step on stdout)
//
// JOB: {"endpoint": "https://127.a.b.c", "ca": "ca.pem", "timeoutMs": 30000,
//       "key": {"KeyIdentifier", "KeyVersion", "Passphrase", "AdyenCryptoVersion"} | null,
//       "steps": [{"name", "request": {SaleToPOIRequest...}, "delayMs"?, "wait"?: false}]}
// A step with "wait": false runs in the background (an abort or a second payment sent while
// it is open); all steps have ended when the script exits. With "key" the encrypted
// TerminalLocalAPI is used (CA file and CN check), without it TerminalLocalAPIUnencrypted.
"use strict";

const fs = require("fs");
const { Client } = require("@adyen/api-library");
const TerminalLocalAPI = require("@adyen/api-library/lib/src/services/terminalLocalAPI").default;
const TerminalLocalAPIUnencrypted =
  require("@adyen/api-library/lib/src/services/terminalLocalAPIUnencrypted").default;

function api(job) {
  const client = new Client({
    environment: "TEST",
    apiKey: "ignored-by-terminals",
    terminalApiLocalEndpoint: job.endpoint,
    certificatePath: job.key ? job.ca : undefined,
    connectionTimeoutMillis: job.timeoutMs || 30000,
  });
  return job.key ? new TerminalLocalAPI(client) : new TerminalLocalAPIUnencrypted(client);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function step(job, s) {
  if (s.delayMs) await sleep(s.delayMs);
  const started = Date.now();
  try {
    const response = job.key
      ? await api(job).request(s.request, job.key)
      : await api(job).request(s.request);
    return { name: s.name, ok: true, ms: Date.now() - started, response };
  } catch (error) {
    return {
      name: s.name,
      ok: false,
      ms: Date.now() - started,
      error: String(error && error.message ? error.message : error),
      statusCode: error && error.statusCode ? error.statusCode : null,
    };
  }
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf-8"));
  const background = [];
  for (const s of job.steps) {
    const running = step(job, s).then((result) => {
      process.stdout.write(JSON.stringify(result) + "\n");
    });
    if (s.wait === false) background.push(running);
    else await running;
  }
  await Promise.all(background);
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ name: "(script)", ok: false, error: String(error) }) + "\n");
  process.exit(2);
});

// The till of the nexo benchmark: a POS program in a process of its own, as in a shop.
//
// usage: NODE_PATH=tests/integration/nexo_client/node_modules node bench/nexo_till.js < ORDERS
// ORDERS (JSON on stdin): {"sales", "ecrUrl", "ecrToken", "nexoEndpoint", "httpUrl", "ca",
//                          "poiId", "key": {KeyIdentifier, KeyVersion, Passphrase, ...}}
// Prints {"latency": {kind: [ms...]}, "terminal_cpu": {kind: ms}, "till_cpu": {kind: ms}}.
//
// nexo payments go through Adyen's official Node.js library (TerminalLocalAPI with the shared
// key, TerminalLocalAPIUnencrypted without), exactly as an integrated POS sends them: a new
// agent per request, so a new TLS connection each time. `/ecr/v1` is driven with Node's own
// fetch on a kept-alive connection (its deployment: the till's machine, loopback). The plain
// HTTP row is a diagnostic (the official clients cannot send plain HTTP): the door without TLS.
//
// The library derives the shared key's material (PBKDF2, 4000 rounds, 640 bytes) twice per
// request, about 30 ms each here: the till's own cost, which no terminal can change. The
// "sealed" kind keeps the library's code but remembers that derivation per passphrase (same
// bytes on the wire); "sealedShipped" is the library exactly as shipped.
//
// Around each payment the terminal's CPU time (/proc, all its threads) and the till's own are
// read too, outside the timed span.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const { Client } = require("@adyen/api-library");
const TerminalLocalAPI = require("@adyen/api-library/lib/src/services/terminalLocalAPI").default;
const TerminalLocalAPIUnencrypted =
  require("@adyen/api-library/lib/src/services/terminalLocalAPIUnencrypted").default;
const KeyGenerator = require("@adyen/api-library/lib/src/security/nexoDerivedKeyGenerator").default;

const derive = KeyGenerator.deriveKeyMaterial;
const derived = new Map();
let remember = false;
KeyGenerator.deriveKeyMaterial = (passphrase) => {
  if (!remember) return derive(passphrase);
  if (!derived.has(passphrase)) derived.set(passphrase, derive(passphrase));
  return derived.get(passphrase);
};

// CPU time process `pid` has run so far (all its live threads, /proc/PID/task/*/schedstat:
// nanoseconds), in milliseconds. Threads that ended are not counted: the terminal's event loop,
// journal and worker threads live as long as it does.
function cpuOf(pid) {
  let total = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf-8").split(" ")[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total / 1e6;
}

function sale(orders) {
  return {
    SaleToPOIRequest: {
      MessageHeader: {
        ProtocolVersion: "3.0",
        MessageClass: "Service",
        MessageCategory: "Payment",
        MessageType: "Request",
        ServiceID: crypto.randomBytes(5).toString("hex"),
        SaleID: "BENCH",
        POIID: orders.poiId,
      },
      PaymentRequest: {
        SaleData: {
          SaleTransactionID: {
            TransactionID: crypto.randomBytes(6).toString("hex"),
            TimeStamp: new Date().toISOString(),
          },
        },
        PaymentTransaction: { AmountsReq: { Currency: "EUR", RequestedAmount: 12.34 } },
      },
    },
  };
}

function library(orders, sealed) {
  const client = new Client({
    environment: "TEST",
    apiKey: "ignored-by-terminals",
    terminalApiLocalEndpoint: orders.nexoEndpoint,
    certificatePath: sealed ? orders.ca : undefined,
    connectionTimeoutMillis: 30000,
  });
  return sealed ? new TerminalLocalAPI(client) : new TerminalLocalAPIUnencrypted(client);
}

// One POST on a connection of its own, closed after the answer, as the official clients do.
function closePost(url, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: "POST",
      agent: false,
      headers: { "Content-Type": "application/json", Connection: "close" },
    });
    request.on("response", (answer) => {
      const parts = [];
      answer.on("data", (part) => parts.push(part));
      answer.on("end", () => resolve(JSON.parse(Buffer.concat(parts).toString("utf-8"))));
    });
    request.on("error", reject);
    request.end(body);
  });
}

function approved(response) {
  const result = response.SaleToPOIResponse.PaymentResponse.Response.Result;
  if (result !== "Success") throw new Error("not approved: " + JSON.stringify(response));
}

async function main() {
  const orders = JSON.parse(fs.readFileSync(0, "utf-8"));
  const ecrHeaders = {
    Authorization: `Bearer ${orders.ecrToken}`,
    "Content-Type": "application/json",
  };
  const kinds = {
    ecr: async () => {
      const body = JSON.stringify({
        amount: { value: 1234, currency: "EUR" },
        method: "nfc",
        reference: crypto.randomBytes(6).toString("hex"), // a till sends its order id, as nexo does
      });
      const created = await (
        await fetch(`${orders.ecrUrl}/ecr/v1/payments`, { method: "POST", headers: ecrHeaders, body })
      ).json();
      const done = await (
        await fetch(`${orders.ecrUrl}/ecr/v1/payments/${created.id}?wait=30`, { headers: ecrHeaders })
      ).json();
      if (done.result !== "approved") throw new Error("not approved: " + JSON.stringify(done));
    },
    plain: async () => approved(await library(orders, false).request(sale(orders))),
    sealed: async () => {
      remember = true;
      approved(await library(orders, true).request(sale(orders), orders.key));
    },
    sealedShipped: async () => {
      remember = false;
      approved(await library(orders, true).request(sale(orders), orders.key));
    },
    http: async () => approved(await closePost(orders.httpUrl, JSON.stringify(sale(orders)))),
  };
  const latency = Object.fromEntries(Object.keys(kinds).map((name) => [name, []]));
  const terminalCpu = Object.fromEntries(Object.keys(kinds).map((name) => [name, 0]));
  const tillCpu = Object.fromEntries(Object.keys(kinds).map((name) => [name, 0]));
  for (const run of Object.values(kinds)) await run(); // warm-up: connections, key derivation
  for (let i = 0; i < orders.sales; i++) {
    for (const [name, run] of Object.entries(kinds)) {
      const terminalBefore = cpuOf(orders.terminalPid);
      const tillBefore = process.cpuUsage();
      const started = process.hrtime.bigint();
      await run();
      latency[name].push(Number(process.hrtime.bigint() - started) / 1e6);
      const till = process.cpuUsage(tillBefore);
      terminalCpu[name] += (cpuOf(orders.terminalPid) - terminalBefore) / orders.sales;
      tillCpu[name] += (till.user + till.system) / 1000 / orders.sales;
    }
  }
  const report = { latency, terminal_cpu: terminalCpu, till_cpu: tillCpu };
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});

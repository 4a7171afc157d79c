#!/usr/bin/env node
// The soak test: a sockwave server (soak/server.mjs, a child process) under N minutes of traffic
// from 2,000 connections — echo, broadcast and topics — with connection churn. Every message
// carries a sequence number, and every receiver checks that nothing is lost, duplicated or
// reordered. The server samples its RSS and event-loop delay every 10 s.
//
//   node soak/run.mjs [--minutes 10] [--connections 2000] [--sample-ms 10000]
//
// Fails (exit 1) on any sequence error, on an unexpected close, on RSS growth after warm-up of
// more than 64 MiB (median of the last three samples against the median of the first three after
// warm-up), or on a median event-loop delay p99 over 100 ms. Prints the figures either way.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../dist/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(`--${name}`); return i === -1 ? fallback : Number(args[i + 1]); };
const MINUTES = option('minutes', 10);
const CONNECTIONS = option('connections', 2000);
const SAMPLE_MS = option('sample-ms', 10_000);
const RSS_BOUND = 64 * 1024 * 1024;
const P99_BOUND = 100;
const TOPICS = 10;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

let checked = 0;
let opened = 0;
const failures = [];
function fail(message) {
  if (failures.length < 50) failures.push(message);
}
async function until(check, ms) {
  for (let waited = 0; !check(); waited += 20) {
    if (waited >= ms) return false;
    await sleep(20);
  }
  return true;
}

/** One client connection; `onText` gets every message; a close not asked for is a failure. */
async function open(url, label, onText) {
  const conn = await connect(url);
  opened++;
  const client = { conn, label, retiring: false };
  conn.on('message', (data) => onText(String(data)));
  conn.on('close', (info) => { if (!client.retiring) fail(`${label} closed unexpectedly (${info.code} ${info.reason})`); });
  return client;
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'soak/server.mjs'), String(SAMPLE_MS)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const samples = [];
    let partial = '';
    child.stdout.on('data', (chunk) => {
      partial += chunk;
      let newline;
      while ((newline = partial.indexOf('\n')) !== -1) {
        const line = partial.slice(0, newline);
        partial = partial.slice(newline + 1);
        const listening = /^listening on (ws:\/\/\S+)/.exec(line);
        if (listening) resolve({ child, url: listening[1], samples });
        if (line.startsWith('SAMPLE ')) {
          const sample = JSON.parse(line.slice(7));
          samples.push(sample);
          console.log(`  t=${sample.t}s rss=${MiB(sample.rss)} heap=${MiB(sample.heapUsed)} eld.p99=${sample.p99.toFixed(1)}ms conns=${sample.connections} in=${sample.messagesIn} out=${sample.messagesOut} checked=${checked}${Object.keys(sample.limits).length ? ` limits=${JSON.stringify(sample.limits)}` : ''}`);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`the soak server exited (${code})`)));
  });
}

// Echo: each client sends `id:n`, n = 0, 1, 2...; the echoes must come back as sent.
let echoIds = 0;
async function echoClient(url) {
  const id = echoIds++;
  let sent = 0;
  let received = 0;
  const client = await open(`${url}/echo`, `echo ${id}`, (text) => {
    if (text !== `${id}:${received}`) fail(`echo ${id}: got ${text}, expected ${id}:${received}`);
    received++;
    checked++;
  });
  return Object.assign(client, {
    tick: () => void client.conn.send(`${id}:${sent++}`),
    settled: () => received === sent,
    verify: () => { if (received !== sent) fail(`echo ${id}: ${sent} sent, ${received} echoed`); },
  });
}

// Sequenced streams (a topic, the broadcast room): from the first number seen, each one follows.
function sequenceChecker(label) {
  const state = { last: -1, ready: false };
  state.accept = (n) => {
    if (state.last !== -1 && n !== state.last + 1) fail(`${label}: got ${n} after ${state.last}`);
    state.last = n;
    checked++;
  };
  return state;
}

async function subscriber(url, topic, n) {
  const seq = sequenceChecker(`subscriber ${n} of ${topic}`);
  const client = await open(`${url}/topic`, `subscriber ${n}`, (text) => {
    if (text === `subscribed ${topic}`) seq.ready = true;
    else if (!seq.ready) fail(`subscriber ${n}: a message before the subscription: ${text}`);
    else if (!text.startsWith(`${topic}:`)) fail(`subscriber ${n} of ${topic} got ${text}`);
    else seq.accept(Number(text.slice(topic.length + 1)));
  });
  client.conn.send(`sub ${topic}`);
  return Object.assign(client, { topic, seq });
}

async function listener(url, n) {
  const seq = sequenceChecker(`broadcast listener ${n}`);
  const client = await open(`${url}/broadcast`, `listener ${n}`, (text) => seq.accept(Number(text.slice(2))));
  return Object.assign(client, { seq });
}

async function retire(client, settled = () => true) {
  client.retiring = true;
  if (!(await until(settled, 10_000))) fail(`${client.label}: not settled before its close`);
  client.conn.close(1000);
}

async function main() {
  const { child, url, samples } = await startServer();
  console.log(`soak: ${CONNECTIONS} connections for ${MINUTES} min against ${url}; samples every ${SAMPLE_MS / 1000} s`);
  const echoCount = Math.floor(CONNECTIONS / 2);
  const listenerCount = Math.floor(CONNECTIONS / 10);
  const subscriberCount = CONNECTIONS - echoCount - listenerCount - TOPICS - 1;
  const topics = Array.from({ length: TOPICS }, (_, i) => `topic${i}`);
  const published = new Map(topics.map((topic) => [topic, 0]));
  let broadcasts = 0;

  const echoes = [];
  const subscribers = [];
  const listeners = [];
  const batch = async (count, make, into) => {
    for (let i = 0; i < count; i += 100) into.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => make(i + j)))));
  };
  await batch(echoCount, () => echoClient(url), echoes);
  await batch(subscriberCount, (i) => subscriber(url, topics[i % TOPICS], i), subscribers);
  await batch(listenerCount, (i) => listener(url, i), listeners);
  const publishers = await Promise.all(topics.map((topic) => open(`${url}/topic`, `publisher ${topic}`, () => {})));
  const broadcaster = await open(`${url}/broadcast`, 'broadcaster', () => {});
  await until(() => subscribers.every((s) => s.seq.ready), 10_000);
  console.log(`soak: ${opened} connections open`);

  const timers = [];
  // Echo: a tenth of the clients every 100 ms, so about one message per client per second.
  let round = 0;
  timers.push(setInterval(() => {
    for (let i = round++ % 10; i < echoes.length; i += 10) echoes[i].tick();
  }, 100));
  // Topics: 5 messages per topic per second; broadcast: 2 per second.
  timers.push(setInterval(() => {
    topics.forEach((topic, i) => {
      const n = published.get(topic);
      published.set(topic, n + 1);
      publishers[i].conn.send(`pub ${topic} ${topic}:${n}`);
    });
  }, 200));
  timers.push(setInterval(() => broadcaster.conn.send(`b:${broadcasts++}`), 500));
  // Churn: every second, two echo clients, two subscribers and a listener leave and are replaced.
  let churning = false;
  timers.push(setInterval(async () => {
    if (churning) return;
    churning = true;
    try {
      const pick = (list) => list.splice(Math.floor(Math.random() * list.length), 1)[0];
      for (let i = 0; i < 2; i++) {
        const old = pick(echoes);
        void retire(old, old.settled).then(() => old.verify());
        echoes.push(await echoClient(url));
        const sub = pick(subscribers);
        void retire(sub);
        subscribers.push(await subscriber(url, sub.topic, subscribers.length + opened));
      }
      void retire(pick(listeners));
      listeners.push(await listener(url, opened));
    } catch (error) {
      fail(`churn: ${error.message}`);
    } finally {
      churning = false;
    }
  }, 1000));

  await sleep(MINUTES * 60_000);
  for (const timer of timers) clearInterval(timer);
  await until(() => !churning, 10_000);
  // Drain: every echo back, every topic and broadcast message at every receiver.
  const drained = await until(() => echoes.every((e) => e.settled())
    && subscribers.every((s) => !s.seq.ready || s.seq.last === -1 || s.seq.last === published.get(s.topic) - 1)
    && listeners.every((l) => l.seq.last === -1 || l.seq.last === broadcasts - 1), 20_000);
  if (!drained) fail('not everything arrived after the traffic stopped');
  for (const e of echoes) e.verify();
  for (const s of subscribers) if (s.seq.last !== -1 && s.seq.last !== published.get(s.topic) - 1) fail(`subscriber of ${s.topic} ended at ${s.seq.last}, published ${published.get(s.topic)}`);
  for (const l of listeners) if (l.seq.last !== -1 && l.seq.last !== broadcasts - 1) fail(`a broadcast listener ended at ${l.seq.last}, sent ${broadcasts}`);
  await sleep(SAMPLE_MS + 1000); // one more sample, at rest
  for (const client of [...echoes, ...subscribers, ...listeners, ...publishers, broadcaster]) {
    client.retiring = true;
    client.conn.close(1000);
  }
  child.kill('SIGTERM');

  // Figures.
  const warmup = Math.min(60, (MINUTES * 60) / 5);
  const steady = samples.filter((s) => s.t >= warmup);
  if (steady.length < 4) fail(`only ${steady.length} samples after warm-up`);
  const baseline = median(steady.slice(0, 3).map((s) => s.rss));
  const end = median(steady.slice(-3).map((s) => s.rss));
  const p99s = samples.map((s) => s.p99);
  const p99 = median(p99s);
  if (end - baseline > RSS_BOUND) fail(`RSS grew by ${MiB(end - baseline)} after warm-up (bound ${MiB(RSS_BOUND)})`);
  if (p99 > P99_BOUND) fail(`median event-loop delay p99 ${p99.toFixed(1)} ms (bound ${P99_BOUND} ms)`);
  const limits = samples.at(-1)?.limits ?? {};
  console.log('soak figures:');
  console.log(`  duration ${MINUTES} min, ${CONNECTIONS} connections at once, ${opened} opened in all (churn)`);
  console.log(`  messages checked (sequence numbers: none lost, duplicated or reordered): ${checked}`);
  console.log(`  server RSS: first sample ${MiB(samples[0].rss)}, after warm-up ${MiB(baseline)}, end ${MiB(end)}, growth ${MiB(end - baseline)} (bound ${MiB(RSS_BOUND)})`);
  console.log(`  event-loop delay p99: median ${p99.toFixed(1)} ms, worst sample ${Math.max(...p99s).toFixed(1)} ms (bound on the median ${P99_BOUND} ms)`);
  console.log(`  limits hit: ${JSON.stringify(limits)}`);
  if (failures.length) {
    console.log(`FAIL (${failures.length} problems):`);
    for (const f of failures) console.log(`  ${f}`);
    process.exit(1);
  }
  console.log('PASS');
  process.exit(0);
}

main().catch((error) => {
  console.log(`FAIL ${error.stack}`);
  process.exit(1);
});

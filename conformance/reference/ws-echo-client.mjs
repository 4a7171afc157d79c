#!/usr/bin/env node
// Reference echo client built on the `ws` package, with the same contract as
// `sockwave connect URL --echo [--deflate]`: every message received is sent
// back with the same type until the server closes; --deflate offers
// permessage-deflate (RFC 7692). Exit 0 when the server closes normally,
// non-zero with a one-line error otherwise.
import WebSocket from 'ws';

const argv = process.argv.slice(2);
const deflate = argv.includes('--deflate');
const args = argv.filter((a) => a !== 'connect' && a !== '--echo' && a !== '--deflate');
const url = args[0];
if (!url) {
  console.error('usage: ws-echo-client.mjs connect --echo [--deflate] URL');
  process.exit(2);
}
const ws = new WebSocket(url, { perMessageDeflate: deflate });
let failure = null;
ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
ws.on('error', (e) => { failure = e.message; });
ws.on('close', (code) => {
  if (failure) { console.error(`error: ${failure}`); process.exit(1); }
  if (code === 1000 || code === 1005) process.exit(0);
  console.error(`error: connection closed with code ${code}`);
  process.exit(1);
});

// Autobahn categories 12 and 13: permessage-deflate (RFC 7692).
//
// Modelled on autobahntestsuite/case/case12_x_x.py:
//   12.J.I  data set J (12.1 json_data1, 12.2 lena512, 12.3 gutenberg_faust,
//           12.4 html_data1, 12.5 ooms), size row I of MSG_SIZES, the default
//           offer PerMessageDeflateOffer() and the server policy accept_deflate;
//   13.J.I  data set json_data1, offers/accept policy J of DEFLATE_PARAMS,
//           size row I of MSG_SIZES.
// A case sends one message (compressed, fragmented to the case's
// auto-fragment size), waits for its echo, checks type, length and contents,
// then sends the next; after the last echo it closes with 1000. If
// permessage-deflate was not negotiated the case is UNIMPLEMENTED (closed
// with 1000 right away), like in Autobahn.

import crypto from 'node:crypto';
import { V } from './fuzzer.mjs';
import { autobahnOffer, acceptDescription } from './deflate.mjs';
import { DATASETS, DATASET_ORDER, slice } from './testdata.mjs';

// Autobahn MSG_SIZES: (payload length, message count, case timeout s, auto-fragment size)
export const MSG_SIZES = [
  [16, 1000, 60, 0],
  [64, 1000, 60, 0],
  [256, 1000, 120, 0],
  [1024, 1000, 240, 0],
  [4096, 1000, 480, 0],
  [8192, 1000, 480, 0],
  [16384, 1000, 480, 0],
  [32768, 1000, 480, 0],
  [65536, 1000, 480, 0],
  [131072, 1000, 480, 0],
  [8192, 1000, 480, 256],
  [16384, 1000, 480, 256],
  [32768, 1000, 480, 256],
  [65536, 1000, 480, 256],
  [131072, 1000, 480, 256],
  [131072, 1000, 480, 1024],
  [131072, 1000, 480, 4096],
  [131072, 1000, 480, 32768],
];

/**
 * Reduced message counts (default): Autobahn sends 1000 messages in every
 * case; the default run sends 50 messages of up to 4096 octets, 25 of 8192
 * and 16384, 12 of 32768 and 65536 and 8 of 131072 octets (every case with
 * messages of 8 KiB or more still pushes at least 196 KiB through the
 * compression context, i.e. rolls the 32 KiB LZ77 window over several times).
 * --deflate-full restores Autobahn's 1000 messages per case.
 */
export function reducedCount(len) {
  if (len <= 4096) return 50;
  if (len <= 16384) return 25;
  if (len <= 65536) return 12;
  return 8;
}

// Time limits: Autobahn's case timeouts (60..480 s) are meant for 1000
// messages; with reduced counts a case must finish within DEADLINE seconds.
const DEADLINE = 20;
const DEADLINE_FULL = 120;

// Autobahn DEFLATE_PARAMS: (server accept policy, client offers)
const DEFLATE_PARAMS = [
  ['accept1', [autobahnOffer()]],
  ['accept2', [autobahnOffer({ requestNoContextTakeover: true, requestMaxWindowBits: 0 })]],
  ['accept3', [autobahnOffer({ requestNoContextTakeover: false, requestMaxWindowBits: 8 })]],
  ['accept4', [autobahnOffer({ requestNoContextTakeover: false, requestMaxWindowBits: 15 })]],
  ['accept5', [autobahnOffer({ requestNoContextTakeover: true, requestMaxWindowBits: 8 })]],
  ['accept6', [autobahnOffer({ requestNoContextTakeover: true, requestMaxWindowBits: 15 })]],
  ['accept7', [autobahnOffer({ requestNoContextTakeover: true, requestMaxWindowBits: 8 }), autobahnOffer({ requestNoContextTakeover: true }), autobahnOffer()]],
];

const py = (b) => (b ? 'True' : 'False');
const offersDesc = (offers) => `client offers (requestNoContextTakeover, requestMaxWindowBits): [${offers.map((o) => `(${py(o.requestNoContextTakeover)}, ${o.requestMaxWindowBits})`).join(', ')}]`;

let fullCounts = false;
const deflateCases = [];

function describe(c) {
  const [len, , , frag] = c.size;
  const what = c.id.startsWith('12.') ? 'Use default permessage-deflate offer.' : `Use permessage-deflate ${offersDesc(c.deflate.offers)} / ${acceptDescription(c.deflate.accept)}.`;
  const reduced = fullCounts ? '' : ' (Autobahn: 1000)';
  c.description = `Send ${c.count} compressed messages${reduced} each of payload size ${len}, auto-fragment to ${frag} octets. ${what} Data: ${DATASETS[c.dataset].desc} (${DATASETS[c.dataset].binary ? 'binary' : 'utf8'}).`;
  c.expectation = `Receive echo'ed messages (with payload as sent). Timeout case after ${c.deadline} secs.`;
}

/** Switch between reduced (default) and Autobahn's full message counts. */
export function configureDeflateCases({ full = false } = {}) {
  fullCounts = full;
  for (const c of deflateCases) {
    c.count = full ? c.size[1] : reducedCount(c.size[0]);
    c.deadline = full ? DEADLINE_FULL : DEADLINE;
    c.clientTimeout = c.deadline + 5;
    describe(c);
  }
}

function onOpen(c) {
  const def = c.caseDef;
  const [len, , , frag] = def.size;
  c.expectedClose = { closedByMe: true, closeCode: [1000], requireClean: true };
  const st = { ptr: 0, sent: 0, echoed: 0, compressedEchoes: 0, wireOctets: 0, plainOctets: 0, mismatch: null, want: null, startedAt: Date.now() };
  c.caseState = st;
  if (!c.deflate) {
    st.unimplemented = true;
    c.expected[V.OK] = [];
    c.sendClose(1000);
    return;
  }
  c.expected[V.OK] = [['echoed', `${def.count} messages`]];
  c.later(def.deadline, () => {
    if (c.isOpen) {
      st.timedOut = true;
      c.sendClose(1000);
    }
  });
  st.sendOne = () => {
    const { msg, ptr } = slice(def.dataset, st.ptr, len);
    st.ptr = ptr;
    st.want = msg;
    st.sent++;
    c.sendCompressedMessage(msg, { binary: DATASETS[def.dataset].binary, fragmentSize: frag }).catch((e) => {
      c.notes.push(`internal error while compressing: ${e.message}`);
      c.drop();
    });
  };
  st.sendOne();
}

function sha1(b) { return crypto.createHash('sha1').update(b).digest('hex'); }

function onMessage(c, payload, binary, info) {
  const def = c.caseDef;
  const st = c.caseState;
  if (!st || st.mismatch || !c.isOpen) return;
  const wantBinary = DATASETS[def.dataset].binary;
  const n = st.echoed + 1;
  if (st.want == null) {
    st.mismatch = `unexpected message #${n} (${payload.length} octets) although no echo was outstanding`;
  } else if (binary !== wantBinary) {
    st.mismatch = `echo #${n}: message type differs from what was sent (got ${binary ? 'binary' : 'text'}, expected ${wantBinary ? 'binary' : 'text'})`;
  } else if (payload.length !== st.want.length) {
    st.mismatch = `echo #${n}: length differs from what was sent (got ${payload.length} octets, expected ${st.want.length})`;
  } else if (!payload.equals(st.want)) {
    let i = 0;
    while (payload[i] === st.want[i]) i++;
    st.mismatch = `echo #${n}: contents differ from what was sent (first difference at octet ${i}; got SHA1 ${sha1(payload)}, expected SHA1 ${sha1(st.want)})`;
  }
  if (st.mismatch) {
    c.record('mismatch', st.mismatch);
    c.sendClose(1000);
    return;
  }
  st.echoed++;
  st.want = null;
  if (info.compressed) st.compressedEchoes++;
  st.wireOctets += info.wireLength;
  st.plainOctets += payload.length;
  if (st.echoed < def.count) st.sendOne();
  else {
    c.record('echoed', `${def.count} messages`);
    c.sendClose(1000);
  }
}

function post(c, r) {
  const st = c.caseState;
  if (!st) return;
  if (st.unimplemented) {
    r.behavior = V.UNIMPLEMENTED;
    r.result = 'permessage-deflate was not negotiated (the peer declined or did not offer it as the case requires)';
    return;
  }
  const stats = `${st.echoed}/${c.caseDef.count} echoes, ${st.compressedEchoes} of them compressed (${st.wireOctets} wire octets for ${st.plainOctets} octets)`;
  if (c.deflate) c.notes.push(stats);
  if (r.behavior === V.OK) return;
  if (st.mismatch) r.result = st.mismatch;
  else if (c.violations.length) r.result = `The suite failed the connection after ${stats} (see the violation).`;
  else if (st.timedOut) r.result = `Case did not finish within ${c.caseDef.deadline} seconds (${stats}).`;
  else if (st.echoed < c.caseDef.count) r.result = `Connection ended before all echoes were received (${stats}).`;
}

function add(id, dataset, size, deflate) {
  deflateCases.push({ id, dataset, size, deflate, onOpen, onMessage, post, maxMessageSize: 4 * 1024 * 1024 });
}

DATASET_ORDER.forEach((key, j) => {
  MSG_SIZES.forEach((size, i) => add(`12.${j + 1}.${i + 1}`, key, size, { offers: [autobahnOffer()], accept: 'accept1' }));
});
DEFLATE_PARAMS.forEach(([accept, offers], j) => {
  MSG_SIZES.forEach((size, i) => add(`13.${j + 1}.${i + 1}`, 'json_data1', size, { offers, accept }));
});
configureDeflateCases({ full: false });

export const DEFLATE_CASES = deflateCases;

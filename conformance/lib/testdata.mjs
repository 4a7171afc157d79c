// Test data sets for the compression categories 12/13.
//
// Autobahn ships five files (testdata/: data1.json, lena512.bmp, pg2229.txt,
// data1.html, 10.1.1.105.5439.pdf). This suite does not copy them; it
// generates deterministic stand-ins of the same kind and similar size (seeded
// PRNG, identical on every run): a JSON report, an 8-bit 512x512 BMP, German
// verse (UTF-8, sent as binary like Autobahn's gutenberg_faust), an HTML
// report and a PDF with deflated and high-entropy streams.
// Text data sets (binary: false) are sliced on code points like Autobahn.

import zlib from 'node:zlib';

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (r, arr) => arr[Math.floor(r() * arr.length)];

function genJson() {
  const r = prng(1);
  const agents = ['AutobahnPython/0.6.0', 'Jetty/9.4', 'ws/8.x', 'Müller-Server/1.2 (Ärger)', 'сервер/0.9', '日本語サーバ/2.0', 'µWS/20', 'Tornado/6.1'];
  const ids = [];
  for (let i = 1; i <= 8; i++) ids.push(`1.1.${i}`, `1.2.${i}`);
  for (let i = 1; i <= 11; i++) ids.push(`2.${i}`);
  for (let i = 1; i <= 7; i++) ids.push(`3.${i}`);
  for (let i = 1; i <= 20; i++) ids.push(`5.${i}`);
  for (let i = 1; i <= 23; i++) for (let k = 1; k <= 6; k++) ids.push(`6.${i}.${k}`);
  const lines = ['{'];
  for (const [ai, agent] of agents.entries()) {
    lines.push(`   ${JSON.stringify(agent)}: {`);
    ids.forEach((id, k) => {
      const beh = r() < 0.9 ? 'OK' : pick(r, ['NON-STRICT', 'FAILED', 'INFORMATIONAL', 'UNIMPLEMENTED']);
      const code = beh === 'OK' && r() < 0.7 ? 1000 : pick(r, [1000, 1002, 1007, 1001]);
      lines.push(`      ${JSON.stringify(id)}: {`,
        `         "behavior": ${JSON.stringify(beh)},`,
        `         "behaviorClose": ${JSON.stringify(r() < 0.95 ? 'OK' : 'UNCLEAN')},`,
        `         "duration": ${Math.floor(r() * r() * 1500)},`,
        `         "remoteCloseCode": ${code},`,
        `         "reportfile": ${JSON.stringify(`${agent.toLowerCase().replace(/[^a-z0-9]+/g, '_')}_case_${id.replace(/\./g, '_')}.json`)}`,
        `      }${k < ids.length - 1 ? ',' : ''}`);
    });
    lines.push(`   }${ai < agents.length - 1 ? ',' : ''}`);
  }
  lines.push('}');
  return lines.join('\n');
}

function genBmp() {
  const r = prng(2);
  const w = 512;
  const h = 512;
  const header = Buffer.alloc(54 + 1024);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(header.length + w * h, 2);
  header.writeUInt32LE(header.length, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(w, 18);
  header.writeInt32LE(h, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(8, 28);
  header.writeUInt32LE(w * h, 34);
  header.writeUInt32LE(2835, 38);
  header.writeUInt32LE(2835, 42);
  header.writeUInt32LE(256, 46);
  for (let i = 0; i < 256; i++) header.writeUInt32LE(i * 0x010101, 54 + i * 4);
  const px = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 110 + 55 * Math.sin(x / 23 + y / 61) * Math.cos(y / 17) + 40 * Math.sin((x * y) / 9000) + (r() - 0.5) * 18;
      px[y * w + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return Buffer.concat([header, px]);
}

function genFaust() {
  const r = prng(3);
  const speakers = ['FAUST', 'MEPHISTOPHELES', 'WAGNER', 'MARGARETE', 'MARTHE', 'CHOR DER ENGEL', 'GEIST', 'SCHÜLER'];
  const words = ['Habe', 'nun', 'ach', 'Philosophie', 'Juristerei', 'und', 'Medizin', 'leider', 'auch', 'Theologie', 'durchaus',
    'studiert', 'mit', 'heißem', 'Bemühn', 'da', 'steh', 'ich', 'armer', 'Tor', 'bin', 'so', 'klug', 'als', 'wie', 'zuvor',
    'Grüße', 'Öde', 'Ärger', 'über', 'schön', 'Mädchen', 'Nacht', 'Geist', 'Welt', 'Herz', 'Seele', 'fühlen', 'müssen',
    'daß', 'Teufel', 'Himmel', 'Erde', 'Gretchen', 'Liebe', 'Stunde', 'verweile', 'doch', 'du', 'bist', 'Glück', 'Tränen'];
  const parts = ['\ufeffThe Project Gutenberg EBook of Faust: Der Tragödie erster Teil (stand-in)\r\n\r\n'];
  let size = parts[0].length;
  while (size < 240000) {
    let block = `${pick(r, speakers)}:\r\n`;
    const n = 2 + Math.floor(r() * 8);
    for (let i = 0; i < n; i++) {
      const k = 4 + Math.floor(r() * 6);
      const line = Array.from({ length: k }, () => pick(r, words)).join(' ');
      block += `${line[0].toUpperCase()}${line.slice(1)}${pick(r, [',', '.', '!', ';', '?', ''])}\r\n`;
    }
    block += '\r\n';
    parts.push(block);
    size += Buffer.byteLength(block);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

function genHtml() {
  const r = prng(4);
  const rows = [];
  for (let i = 0; i < 1100; i++) {
    const id = `${1 + (i % 13)}.${1 + (i % 7)}.${1 + (i % 23)}`;
    const v = r() < 0.85 ? 'OK' : pick(r, ['Non-Strict', 'Failed', 'Info']);
    rows.push(`      <tr><td class="case_${v.toLowerCase()}"><a href="#case_${id.replace(/\./g, '_')}">Case ${id}</a></td>` +
      `<td class="${v === 'OK' ? 'case_ok' : 'case_failed'}">${v}</td><td>${Math.floor(r() * 900)} ms</td>` +
      `<td>${r() < 0.1 ? 'Verbindung geschlossen &ndash; Grüße' : 'Connection closed'} [${1000 + Math.floor(r() * 12)}]</td></tr>`);
  }
  return `<!DOCTYPE html>\n<html>\n   <head>\n      <meta charset="utf-8" />\n      <title>Autobahn WebSocket Test Report — stand-in</title>\n` +
    '      <style lang="css">\n         body { background-color: #F4F4F4; color: #333; font-family: Segoe UI, Tahoma, Arial, Verdana, sans-serif; }\n' +
    '         table { border-collapse: collapse; }\n         td.case_ok { background-color: #0a0; }\n         td.case_failed { background-color: #900; }\n      </style>\n' +
    `   </head>\n   <body>\n      <h1>WebSocket Protocol Test Report</h1>\n      <table>\n${rows.join('\n')}\n      </table>\n   </body>\n</html>\n`;
}

function genPdf() {
  const r = prng(5);
  const parts = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let obj = 1;
  for (let k = 0; k < 60; k++) {
    let content;
    if (k % 3 === 2) {
      // "image": high entropy
      content = Buffer.alloc(4000 + Math.floor(r() * 6000));
      for (let i = 0; i < content.length; i++) content[i] = Math.floor(r() * 256);
    } else {
      // page content stream, deflated
      let s = 'BT /F1 10 Tf 72 720 Td 12 TL\n';
      for (let i = 0; i < 150; i++) s += `(${Array.from({ length: 8 }, () => pick(r, ['protocol', 'message', 'frame', 'latency', 'the', 'of', 'server', 'client', 'TCP', 'measurement'])).join(' ')}) '\n`;
      s += 'ET\n';
      content = zlib.deflateSync(Buffer.from(s, 'latin1'));
    }
    parts.push(Buffer.from(`${obj} 0 obj\n<< /Length ${content.length} /Filter /FlateDecode >>\nstream\n`, 'latin1'), content, Buffer.from('\nendstream\nendobj\n', 'latin1'));
    obj++;
  }
  parts.push(Buffer.from(`trailer\n<< /Size ${obj} /Root 1 0 R >>\n%%EOF\n`, 'latin1'));
  return Buffer.concat(parts);
}

export const DATASETS = {
  json_data1: { desc: 'Large JSON data file', binary: false, gen: genJson },
  lena512: { desc: 'Lena Picture, Bitmap 512x512 bw', binary: true, gen: genBmp },
  gutenberg_faust: { desc: "Human readable text, Goethe's Faust I (German)", binary: true, gen: genFaust },
  html_data1: { desc: 'Large HTML file', binary: false, gen: genHtml },
  ooms: { desc: 'A larger PDF', binary: true, gen: genPdf },
};

// Autobahn's iteration order (WS_COMPRESSION_TESTDATA_KEYS): 12.1 .. 12.5
export const DATASET_ORDER = ['json_data1', 'lena512', 'gutenberg_faust', 'html_data1', 'ooms'];

const cache = new Map();

/**
 * Materialised data set: { bytes: Buffer, offsets: Int32Array|null, n }.
 * Text data sets keep the byte offset of every code point (offsets[n] = end)
 * so that slicing on code points is cheap.
 */
function materialise(key) {
  if (!cache.has(key)) {
    const d = DATASETS[key];
    const v = d.gen();
    if (d.binary) cache.set(key, { bytes: v, offsets: null, n: v.length });
    else {
      const bytes = Buffer.from(v, 'utf8');
      const offsets = new Int32Array(bytes.length + 1);
      let n = 0;
      for (let i = 0; i < bytes.length; i++) if ((bytes[i] & 0xc0) !== 0x80) offsets[n++] = i;
      offsets[n] = bytes.length;
      cache.set(key, { bytes, offsets: offsets.subarray(0, n + 1), n });
    }
  }
  return cache.get(key);
}

export function datasetSize(key) {
  return materialise(key).bytes.length;
}

/**
 * Autobahn sendOne(): the next `len` octets (binary) or code points (text)
 * starting at `ptr`, wrapping around the end. Returns { msg: Buffer, ptr }.
 */
export function slice(key, ptr, len) {
  const { bytes, offsets, n } = materialise(key);
  const to = (ptr + len) % n;
  const at = (i) => (offsets ? offsets[i] : i);
  const msg = to > ptr
    ? Buffer.from(bytes.subarray(at(ptr), at(to)))
    : Buffer.concat([bytes.subarray(at(ptr)), bytes.subarray(0, at(to))]);
  return { msg, ptr: to };
}

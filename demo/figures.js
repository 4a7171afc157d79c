// The server's figures: a WebSocket to /stats that receives one JSON sample a second, shown as
// tiles and a chart of the last 60 seconds (drawn on a canvas, no library).
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const HISTORY = 60;
  const samples = [];
  let updates = 0;

  const fmtCount = (n) => (n >= 1e6 ? (n / 1e6).toFixed(1) + ' M' : n >= 1e4 ? (n / 1e3).toFixed(1) + ' k' : String(n));
  const fmtBytes = (n) => (n >= 1048576 ? (n / 1048576).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B');
  const fmtMs = (n) => (n < 10 ? n.toFixed(2) : n.toFixed(0));

  const draw = () => {
    const canvas = $('chart');
    const ctx = canvas.getContext('2d');
    const { width, height } = canvas;
    const pad = 24;
    ctx.clearRect(0, 0, width, height);
    const max = Math.max(1, ...samples.map((s) => Math.max(s.messagesInPerSecond, s.messagesOutPerSecond)));
    ctx.strokeStyle = '#e3e6ee';
    ctx.fillStyle = '#667085';
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    for (const fraction of [0, 0.5, 1]) {
      const y = height - pad - fraction * (height - 2 * pad);
      ctx.beginPath();
      ctx.moveTo(pad, y);
      ctx.lineTo(width - 4, y);
      ctx.stroke();
      ctx.fillText(fmtCount(Math.round(max * fraction)), 2, y - 2);
    }
    const x = (i) => pad + (i * (width - pad - 4)) / (HISTORY - 1);
    const y = (v) => height - pad - (v / max) * (height - 2 * pad);
    const offset = HISTORY - samples.length;
    for (const [key, colour] of [['messagesInPerSecond', '#2f6fde'], ['messagesOutPerSecond', '#e0782f']]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2;
      ctx.beginPath();
      samples.forEach((s, i) => (i === 0 ? ctx.moveTo(x(offset + i), y(s[key])) : ctx.lineTo(x(offset + i), y(s[key]))));
      ctx.stroke();
    }
  };

  const show = (f) => {
    updates++;
    $('fig-connections').textContent = fmtCount(f.connections);
    $('fig-msg-in').textContent = fmtCount(f.messagesInPerSecond);
    $('fig-msg-out').textContent = fmtCount(f.messagesOutPerSecond);
    $('fig-bytes-in').textContent = fmtBytes(f.bytesInPerSecond);
    $('fig-bytes-out').textContent = fmtBytes(f.bytesOutPerSecond);
    $('fig-ratio').textContent = f.compressionRatio === null ? '–' : '×' + f.compressionRatio.toFixed(2) + (f.deflate ? ' (deflate)' : ' (no deflate)');
    $('fig-rtt').textContent = f.rtt ? fmtMs(f.rtt.min) + ' / ' + fmtMs(f.rtt.median) + ' / ' + fmtMs(f.rtt.max) + ' ms' : '–';
    $('fig-updates').textContent = String(updates);
    samples.push(f);
    if (samples.length > HISTORY) samples.shift();
    draw();
  };

  const open = () => {
    const url = new URL('/stats', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    ws.onopen = () => ($('figures-status').textContent = 'live, every second');
    ws.onmessage = (event) => {
      try {
        const figures = JSON.parse(event.data);
        if (figures.type === 'figures') show(figures);
      } catch {
        // not a sample
      }
    };
    ws.onclose = () => {
      $('figures-status').textContent = 'disconnected; retrying…';
      setTimeout(open, 2000);
    };
  };
  draw();
  open();
})();

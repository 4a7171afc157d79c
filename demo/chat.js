// The chat room: a WebSocket to /broadcast?name=NAME. Messages are JSON text
// {"type":"chat","name":...,"text":...}; the server relays them to everyone in the room and tells
// named members who joins and leaves ({"type":"join"|"leave","name":...,"members":[...]}).
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const log = $('log');
  const nameInput = $('name');
  const messageInput = $('message');
  let socket = null;
  let myName = '';

  const wsUrl = (path) => {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return url;
  };
  $('cli-hint').textContent = 'sockwave connect ' + wsUrl('/broadcast').href;
  nameInput.value = sessionStorage.getItem('sockwave-name') || 'guest-' + Math.floor(100 + Math.random() * 900);

  const add = (parts, cls) => {
    const line = document.createElement('div');
    if (cls) line.className = cls;
    for (const [text, partCls] of parts) {
      const span = document.createElement('span');
      span.textContent = text;
      if (partCls) span.className = partCls;
      line.append(span);
    }
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(line);
    while (log.childElementCount > 500) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  };
  const system = (text) => add([[text]], 'system');

  const show = (data) => {
    if (typeof data !== 'string') return add([['[binary message]']], 'system');
    let message = null;
    try {
      message = JSON.parse(data);
    } catch {
      // not JSON: someone else's plain text, e.g. from `sockwave connect`
    }
    if (message && message.type === 'chat' && typeof message.text === 'string') {
      const who = String(message.name || 'anonymous');
      return add([[who, 'who'], [': ' + message.text]], who === myName ? 'me' : '');
    }
    if (message && (message.type === 'join' || message.type === 'leave') && Array.isArray(message.members)) {
      $('members').textContent = message.members.length ? message.members.join(', ') : 'nobody yet';
      return system(message.name + (message.type === 'join' ? ' joined' : ' left'));
    }
    add([['(no name)', 'who'], [': ' + data]]);
  };

  const setOpen = (open) => {
    messageInput.disabled = !open;
    $('send').disabled = !open;
    $('join').textContent = open ? 'Rename' : 'Join';
    if (open) messageInput.focus();
  };

  const join = () => {
    const name = nameInput.value.trim().slice(0, 32);
    if (!name) return;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, 'renamed');
    }
    myName = name;
    sessionStorage.setItem('sockwave-name', name);
    const url = wsUrl('/broadcast');
    url.searchParams.set('name', name);
    const ws = new WebSocket(url);
    socket = ws;
    $('chat-status').textContent = 'connecting…';
    ws.onopen = () => {
      $('chat-status').textContent = 'connected as ' + name;
      setOpen(true);
    };
    ws.onmessage = (event) => show(event.data);
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      setOpen(false);
      $('chat-status').textContent = 'disconnected (' + event.code + (event.reason ? ' ' + event.reason : '') + ')';
      system('connection closed');
    };
  };

  $('join-form').addEventListener('submit', (event) => {
    event.preventDefault();
    join();
  });
  $('send-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = messageInput.value;
    if (!text || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: 'chat', name: myName, text }));
    messageInput.value = '';
  });
  join();
})();

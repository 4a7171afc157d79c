import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Socket } from 'node:net';
import { once } from 'node:events';
import { forgetPeerName } from '../../src/io/peer-name.js';
import { socketPair } from '../support/net.js';
import { serve, wsClient } from '../support/server-kit.js';

type PeerCache = { _peername?: object };

describe('forgetPeerName', () => {
  test("lets go of Node's copy of the peer's address; the open socket still answers it (and keeps it again)", async (t) => {
    const { near, far } = await socketPair(t);
    assert.equal(near.remoteAddress, '127.0.0.1');
    assert.notEqual((near as unknown as PeerCache)._peername, undefined, 'Node keeps a copy once read (what this lets go)');
    forgetPeerName(near);
    assert.equal((near as unknown as PeerCache)._peername, undefined);
    assert.equal(near.remoteAddress, '127.0.0.1');
    assert.equal(near.remotePort, far.localPort);
  });

  test('a socket whose address was never read is left as it is', async (t) => {
    const { near } = await socketPair(t);
    forgetPeerName(near);
    assert.equal(Object.hasOwn(near, '_peername'), false);
  });
});

describe("a server connection and its socket's copy of the peer's address", () => {
  test("the connection keeps the address and port (also after the close); its socket keeps no copy of them", async (t) => {
    const { url, connections } = await serve(t);
    const { ws } = await wsClient(t, `${url}/`);
    const { connection } = await connections.next();
    const socket = (connection as unknown as { socket: Socket }).socket;
    assert.equal((socket as unknown as PeerCache)._peername, undefined, 'an idle connection carries the address once, not twice');
    const port = (ws as unknown as { _socket: Socket })._socket.localPort;
    assert.equal(connection.remoteAddress, '127.0.0.1');
    assert.equal(connection.remotePort, port);
    ws.close();
    await once(connection, 'close');
    assert.equal(connection.remoteAddress, '127.0.0.1');
    assert.equal(connection.remotePort, port);
  });
});

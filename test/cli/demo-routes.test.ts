import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { installDemoRoutes, type DemoRoutes } from '../../src/cli/demo-routes.js';
import { eventually, runIsolated, serve, turn, wsClient } from '../support/server-kit.js';
import { type WebSocketServer } from '../../src/server/server.js';
import { type WsRecord } from '../support/net.js';

/** A server on 127.0.0.1 with the demo routes, the figures timer under `t`'s mock clock. */
async function demo(t: TestContext, options: { deflate?: boolean; interval?: number } = {}): Promise<{ url: string; routes: DemoRoutes; server: WebSocketServer }> {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const srv = await serve(t);
  const routes = installDemoRoutes(srv.server, { deflate: options.deflate ?? false, ...(options.interval === undefined ? {} : { interval: options.interval }) });
  t.after(() => routes.stop());
  return { url: srv.url, routes, server: srv.server };
}

const text = (message: { data: Buffer }): string => message.data.toString('utf8');
const json = (message: { data: Buffer }): Record<string, unknown> => JSON.parse(text(message)) as Record<string, unknown>;

/** The next message of `rec`, as JSON. */
async function nextJson(rec: WsRecord, what: string): Promise<Record<string, unknown>> {
  return json(await rec.messages.next(what));
}

describe('demo routes: /echo', () => {
  test('every message goes back with its type', async (t) => {
    const { url } = await demo(t);
    const { ws, rec } = await wsClient(t, `${url}/echo`);
    ws.send('hello');
    ws.send(Buffer.from([1, 2, 3]));
    const first = await rec.messages.next('the text echo');
    assert.deepEqual([text(first), first.isBinary], ['hello', false]);
    const second = await rec.messages.next('the binary echo');
    assert.deepEqual([[...second.data], second.isBinary], [[1, 2, 3], true]);
  });
});

describe('demo routes: /broadcast', () => {
  test('a message goes to every connection there, the sender included, with its type', async (t) => {
    const { url } = await demo(t);
    const a = await wsClient(t, `${url}/broadcast`);
    const b = await wsClient(t, `${url}/broadcast`);
    const echo = await wsClient(t, `${url}/echo`);
    a.ws.send('to all');
    b.ws.send(Buffer.from([9]));
    for (const rec of [a.rec, b.rec]) {
      const first = await rec.messages.next('the text message');
      assert.deepEqual([text(first), first.isBinary], ['to all', false]);
      const second = await rec.messages.next('the binary message');
      assert.deepEqual([[...second.data], second.isBinary], [[9], true]);
    }
    echo.ws.send('mine');
    assert.equal(text(await echo.rec.messages.next('the echo')), 'mine', '/echo is not in the room');
  });

  test('named members get join and leave notices with the names in the room; others get none', async (t) => {
    const { url } = await demo(t);
    const anonymous = await wsClient(t, `${url}/broadcast`);
    const alice = await wsClient(t, `${url}/broadcast?name=alice`);
    assert.deepEqual(await nextJson(alice.rec, "alice's own join"), { type: 'join', name: 'alice', members: ['alice'] });
    const bob = await wsClient(t, `${url}/broadcast?name=%20bob%20`);
    const joined = { type: 'join', name: 'bob', members: ['alice', 'bob'] };
    assert.deepEqual(await nextJson(alice.rec, "bob's join, to alice"), joined);
    assert.deepEqual(await nextJson(bob.rec, "bob's join, to bob"), joined);
    const quiet = await wsClient(t, `${url}/broadcast?name=%20%20`);
    bob.ws.close();
    assert.deepEqual(await nextJson(alice.rec, "bob's leave"), { type: 'leave', name: 'bob', members: ['alice'] });
    anonymous.ws.close();
    await anonymous.rec.closed();
    quiet.ws.close();
    await quiet.rec.closed();
    alice.ws.send('after');
    assert.equal(text(await alice.rec.messages.next('the message after the anonymous leaves')), 'after', 'a leave without a name is not told');
    // The anonymous client saw the room's messages only.
    assert.equal(anonymous.rec.messages.history.length, 0);
  });

  test('a name is cut at 32 characters', async (t) => {
    const { url } = await demo(t);
    const long = `${'n'.repeat(32)}XYZ`;
    const member = await wsClient(t, `${url}/broadcast?name=${long}`);
    assert.deepEqual(await nextJson(member.rec, 'the join'), { type: 'join', name: 'n'.repeat(32), members: ['n'.repeat(32)] });
  });
});

describe('demo routes: /stats', () => {
  test('the figures once per interval to each watcher, with the chat members counted; stop() ends them', async (t) => {
    const { url, routes } = await demo(t, { deflate: true, interval: 250 });
    const watcher = await wsClient(t, `${url}/stats`);
    const member = await wsClient(t, `${url}/broadcast?name=ann`);
    await nextJson(member.rec, 'the join');
    t.mock.timers.tick(249);
    t.mock.timers.tick(1);
    const figures = await nextJson(watcher.rec, 'the figures');
    assert.equal(figures['type'], 'figures');
    assert.equal(figures['chatMembers'], 1);
    assert.equal(figures['connections'], 2);
    assert.equal(figures['deflate'], true);
    assert.equal(watcher.rec.messages.pending, 0, 'one tick, one message');
    routes.stop();
    t.mock.timers.tick(1000);
    member.ws.send('flush');
    await member.rec.messages.next('a message after the stop');
    assert.equal(watcher.rec.messages.history.length, 1, 'no figures after stop()');
  });

  test('the default interval is one second', async (t) => {
    const { url } = await demo(t);
    const watcher = await wsClient(t, `${url}/stats`);
    t.mock.timers.tick(999);
    const echo = await wsClient(t, `${url}/echo`);
    echo.ws.send('x');
    await echo.rec.messages.next('the echo');
    assert.equal(watcher.rec.messages.history.length, 0, 'no figures before a second');
    t.mock.timers.tick(1);
    assert.equal((await nextJson(watcher.rec, 'the figures'))['type'], 'figures');
  });

  test('watchers and named members are pinged, their round trips measured; other clients see no ping', async (t) => {
    const { url } = await demo(t);
    const watcher = await wsClient(t, `${url}/stats`);
    const member = await wsClient(t, `${url}/broadcast?name=ann`);
    await nextJson(member.rec, 'the join');
    const anonymous = await wsClient(t, `${url}/broadcast`);
    const echo = await wsClient(t, `${url}/echo`);
    t.mock.timers.tick(1000);
    assert.equal((await nextJson(watcher.rec, 'the first figures'))['rtt'], null);
    await watcher.rec.pings.next('the ping to the watcher');
    await member.rec.pings.next('the ping to the member');
    // The pongs reach the server soon after the pings: a tick's figures count them once they did.
    let samples = 0;
    for (let i = 0; i < 50 && samples < 2; i++) {
      t.mock.timers.tick(1000);
      const rtt = (await nextJson(watcher.rec, 'the next figures'))['rtt'] as { samples: number } | null;
      samples = rtt?.samples ?? 0;
    }
    assert.equal(samples, 2);
    anonymous.ws.send('done');
    await anonymous.rec.messages.next('the room message');
    echo.ws.send('done');
    await echo.rec.messages.next('the echo');
    assert.equal(anonymous.rec.pings.history.length, 0);
    assert.equal(echo.rec.pings.history.length, 0);
  });

  test('without watchers, nobody is pinged', async (t) => {
    const { url } = await demo(t);
    const member = await wsClient(t, `${url}/broadcast?name=ann`);
    await nextJson(member.rec, 'the join');
    t.mock.timers.tick(1000);
    t.mock.timers.tick(1000);
    member.ws.send('after the ticks');
    assert.equal(text(await member.rec.messages.next('the room message')), 'after the ticks');
    assert.equal(member.rec.pings.history.length, 0);
  });

  test('the figures timer does not keep the process alive', async (t) => {
    const run = await runIsolated(
      t,
      `const { WebSocketServer } = await import('{{index}}');
      const { installDemoRoutes } = await import(new URL('./cli/demo-routes.js', '{{index}}').href);
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      installDemoRoutes(server, { deflate: false });
      await server.listen();
      await server.close();
      console.log('closed');`,
      5000,
    );
    assert.deepEqual({ code: run.code, timedOut: run.timedOut, output: run.output.trim() }, { code: 0, timedOut: false, output: 'closed' });
  });

  test('without watchers, the rates keep their baseline: traffic before the first watcher is not counted', async (t) => {
    const { url } = await demo(t);
    const echo = await wsClient(t, `${url}/echo`);
    for (let i = 0; i < 20; i++) echo.ws.send('x');
    for (let i = 0; i < 20; i++) await echo.rec.messages.next('an echo');
    t.mock.timers.tick(1000);
    const watcher = await wsClient(t, `${url}/stats`);
    t.mock.timers.tick(1000);
    const figures = await nextJson(watcher.rec, 'the figures');
    assert.equal(figures['messagesInPerSecond'], 0);
    assert.equal(figures['messagesOutPerSecond'], 0);
  });

  test('a watcher that left gets nothing more, and the rest still do', async (t) => {
    const { url, server } = await demo(t);
    const leaving = await wsClient(t, `${url}/stats`);
    const staying = await wsClient(t, `${url}/stats`);
    leaving.ws.close();
    await leaving.rec.closed();
    await eventually(() => [...server.clients].length === 1, 'the server to see the watcher leave');
    await turn();
    const dropped = server.stats().dropped;
    t.mock.timers.tick(1000);
    assert.equal((await nextJson(staying.rec, 'the figures'))['connections'], 1);
    assert.equal(leaving.rec.messages.history.length, 0);
    // Nothing was sent to the closed connection (such a send is counted as dropped).
    assert.equal(server.stats().dropped, dropped);
  });
});

// The comparison for the fan-out bench (P3): a NestJS socket.io gateway (@nestjs/websockets +
// @nestjs/platform-socket.io, websocket transport only), every subscriber in one room, in its own
// child process. Run with --expose-gc so that memory is measured after a full collection.
//
// IPC: publish { seq } stamps t0 (process.hrtime) and emits to the room, as an app would;
//      memory {} collects garbage and answers the process's resident memory; clients {} counts.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WebSocketGateway } from '@nestjs/websockets';
import { processMemory, serveHelper } from '../lib/common.mjs';

const ROOM = 'bench';
let connected = 0;

class BenchGateway {
  afterInit(server) {
    this.server = server;
  }

  handleConnection(client) {
    client.join(ROOM);
    connected++;
  }

  handleDisconnect() {
    connected--;
  }

  publish(seq) {
    const t0 = process.hrtime.bigint();
    this.server.to(ROOM).emit('m', { bseq: seq, t0: String(t0) });
  }
}
WebSocketGateway({ transports: ['websocket'] })(BenchGateway);

class GatewayModule {}
Module({ providers: [BenchGateway] })(GatewayModule);

try {
  const app = await NestFactory.create(GatewayModule, { logger: false, abortOnError: false });
  app.useWebSocketAdapter(new IoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const gateway = app.get(BenchGateway);
  serveHelper({
    publish: ({ seq }) => {
      gateway.publish(seq);
      return {};
    },
    memory: async () => {
      for (let i = 0; i < 3; i++) {
        globalThis.gc?.();
        await new Promise((r) => setTimeout(r, 50));
      }
      const mem = await processMemory(process.pid);
      return { ...mem, heapUsed: process.memoryUsage().heapUsed, gc: typeof globalThis.gc === 'function' };
    },
    clients: () => ({ count: connected }),
  });
  process.on('SIGTERM', () => {
    app.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
  process.send({ type: 'ready', port: app.getHttpServer().address().port });
} catch (err) {
  process.send?.({ type: 'fatal', error: err?.stack ?? String(err) });
  process.exit(1);
}

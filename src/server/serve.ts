// Serves the Hono app over Node's HTTP server on the configured host (loopback by default).
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

export interface RunningHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listen on host:port (port 0 picks a free one) and resolve once listening. */
export async function listen(app: Hono, host: string, port: number): Promise<RunningHttpServer> {
  return new Promise((resolveServer, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const shownHost = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolveServer({
        url: `http://${shownHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ("closeAllConnections" in server) server.closeAllConnections();
          }),
      });
    });
    server.once("error", reject);
  });
}

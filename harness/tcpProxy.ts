/**
 * A loopback TCP proxy for tests and benchmarks (harness/ is what test/ and bench/ share):
 * it can cut every connection passing through it (the link drops; clients reconnect
 * through it), refuse new ones for a while (the link stays down), and delay each
 * direction (a slow link).
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface ProxyOptions {
  readonly targetPort: number;
  readonly targetHost?: string;
  /** Added to every chunk in each direction (until `reroute`). */
  readonly delayMs?: number;
}

export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  private down = false;
  /** Each direction's delay of the connections made from now on. */
  private delayMs: number;
  port = 0;

  constructor(private readonly options: ProxyOptions) {
    this.delayMs = options.delayMs ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this;
  }

  /** Drops every open connection at once, as a flaky network would. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** Cuts, and refuses new connections until `restore()`. */
  goDown(): void {
    this.down = true;
    this.cut();
  }

  /** Cuts every connection; those made from now on take `delayMs` each way (the client's network changed). */
  reroute(delayMs: number): void {
    this.delayMs = delayMs;
    this.cut();
  }

  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.goDown();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    if (this.down) {
      client.destroy();
      return;
    }
    const upstream = connect(this.options.targetPort, this.options.targetHost ?? "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  private forward(from: Socket, to: Socket): void {
    const delay = this.delayMs;
    from.on("data", (chunk: Buffer) => {
      if (delay === 0) to.write(chunk);
      else setTimeout(() => to.destroyed || to.write(chunk), delay);
    });
  }
}

import type { ConvexClient } from "convex/browser";
import { Emitter, type Disposable, type Event } from "./events";
import type { ConnectionState } from "./types";

/**
 * How long a lost socket counts as a blip ("reconnecting") before we tell the user
 * they are offline. The Convex client retries on its own; this only names the wait.
 */
export const OFFLINE_AFTER_MS = 3000;

/** Follows a ConvexClient's socket and names its state for the UI. */
export class ConnectionStatus implements Disposable {
  private state: ConnectionState;
  private offlineTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly changed = new Emitter<ConnectionState>();
  private readonly unsubscribe: () => void;
  readonly onChange: Event<ConnectionState> = this.changed.event;

  constructor(convex: ConvexClient) {
    const initial = convex.connectionState();
    this.state = initial.isWebSocketConnected ? "connected" : "reconnecting";
    if (!initial.isWebSocketConnected) this.armOfflineTimer();
    this.unsubscribe = convex.subscribeToConnectionState((s) => this.update(s.isWebSocketConnected));
  }

  get current(): ConnectionState {
    return this.state;
  }

  private update(connected: boolean): void {
    if (connected) {
      this.clearOfflineTimer();
      this.set("connected");
    } else if (this.state === "connected") {
      this.set("reconnecting");
      this.armOfflineTimer();
    }
  }

  private armOfflineTimer(): void {
    this.clearOfflineTimer();
    this.offlineTimer = setTimeout(() => this.set("offline"), OFFLINE_AFTER_MS);
    this.offlineTimer.unref?.();
  }

  private clearOfflineTimer(): void {
    if (this.offlineTimer !== undefined) clearTimeout(this.offlineTimer);
    this.offlineTimer = undefined;
  }

  private set(next: ConnectionState): void {
    if (next === this.state) return;
    this.state = next;
    this.changed.fire(next);
  }

  dispose(): void {
    this.clearOfflineTimer();
    this.unsubscribe();
    this.changed.dispose();
  }
}

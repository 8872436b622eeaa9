// Presence through the real local backend and real ConvexClients: teammates see each
// other's carets, a heartbeat re-runs nothing anyone subscribed to, and leaving shows.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import type { PresenceEntry } from "../../convex/schema";
import { cleanup, client, newSpaceWithNote, openSessions, startLocalBackend, waitFor } from "./helpers";

let backend: RunningBackend;

beforeAll(async () => {
  backend = await startLocalBackend();
});

afterAll(async () => {
  await backend.close();
  await cleanup();
});

it("shows a teammate's caret; a heartbeat changes nothing presence:list returns or pushes; a closed session is gone", async () => {
  const { creds, noteId } = await newSpaceWithNote(backend.url);
  const [a, b] = await openSessions(backend.url, creds, noteId, 2);
  a!.applyLocal(["hello"]);
  await waitFor(() => b!.text === "hello", "b has a's text");
  a!.setSelections([{ anchor: 1, head: 4 }]);
  await waitFor(
    () => b!.collaborators.some((c) => c.clientId === a!.clientId && c.selections[0]?.anchor === 1 && c.selections[0]?.head === 4),
    "b sees a's selection",
  );

  const auth = { spaceId: creds.spaceId as Id<"spaces">, key: creds.key, noteId: noteId as Id<"notes"> };
  const watcher = client(backend.url);
  const seen: PresenceEntry[][] = [];
  watcher.onUpdate(api.presence.list, auth, (entries) => seen.push(entries));
  await waitFor(() => seen.at(-1)?.length === 2 && seen.at(-1)!.some((e) => e.selections[0]?.head === 4), "the watcher's list");
  const before = seen.length;
  const listed = seen.at(-1);

  // A mutation's answer arrives after the subscription updates its commit caused.
  expect(await watcher.mutation(api.presence.heartbeat, { ...auth, clientId: a!.clientId })).toBe(true);
  expect(await watcher.mutation(api.presence.heartbeat, { ...auth, clientId: b!.clientId })).toBe(true);
  expect(seen).toHaveLength(before);
  expect(await watcher.query(api.presence.list, auth)).toEqual(listed);

  await b!.close();
  await waitFor(() => a!.collaborators.length === 0, "b gone from a's view");
  expect(await watcher.mutation(api.presence.heartbeat, { ...auth, clientId: b!.clientId })).toBe(false);
  await a!.close();
});

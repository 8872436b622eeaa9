import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { checksum } from "../../sync/checksum";
import { apply, OpBuilder, type TextOp } from "../../sync/textOp";
import { Random } from "../../harness/random";
import { backend, newSpace } from "./helpers";

describe("many clients on stale bases", () => {
  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: every op lands once, the log replays to the text, inserted words stay whole`, async () => {
      const rng = new Random(seed);
      const t = backend();
      const s = await newSpace(t);
      const initial = "start";
      const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: initial });
      // What each revision's text was, as the clients would know it from ops:since.
      const texts = [initial];
      const clients = ["ann", "bo", "cy", "di"];
      const seqs = new Map<string, number>();
      const words: string[] = [];

      for (let round = 0; round < 120; round++) {
        const clientId = rng.pick(clients);
        // Each client is a few revisions behind, as on a slow link.
        const head = texts.length - 1;
        const baseRev = Math.max(0, head - rng.int(6));
        const base = texts[baseRev] ?? "";
        // Edit only between words, never inside one (a word is "<…>"), so each stays checkable.
        const outside: number[] = [];
        let depth = 0;
        for (let i = 0; i <= base.length; i++) {
          if (depth === 0) outside.push(i);
          if (base[i] === "<") depth++;
          else if (base[i] === ">") depth--;
        }
        const at = outside[rng.int(outside.length)] ?? 0;
        const b = new OpBuilder().retain(at);
        if (rng.chance(0.7) || base.length - at < 1) {
          const word = `<${clientId}${round}>`;
          words.push(word);
          b.insert(word);
          b.retain(base.length - at);
        } else {
          // Delete a little of the plain text between words.
          const n = Math.min(base.length - at, 1 + rng.int(3));
          const cut = base.slice(at, at + n);
          if (/[<>]/.test(cut) || n === 0) b.retain(base.length - at);
          else b.delete(n).retain(base.length - at - n);
        }
        const op: TextOp = b.build();
        const seq = (seqs.get(clientId) ?? 0) + 1;
        seqs.set(clientId, seq);
        const args = { ...s, noteId, clientId, seq, baseRev, op: [...op] };
        const r = await t.mutation(api.ops.submit, args);
        if (r.kind !== "applied") throw new Error(`unexpected ${r.kind}`);
        expect(r.rev).toBe(head + 1);
        // Now and then the answer is "lost" and the client retries.
        if (rng.chance(0.2)) expect(await t.mutation(api.ops.submit, args)).toEqual(r);
        const since = await t.query(api.ops.since, { ...s, noteId, afterRev: head });
        if (since.kind !== "ops" || since.ops[0] === undefined) throw new Error("missing op");
        const next = apply(texts[head] ?? "", since.ops[0].op);
        // Checksums travel at snapshot revisions only; the final text is compared in full below.
        if (since.ops[0].checksum !== undefined) expect(checksum(next)).toBe(since.ops[0].checksum);
        texts.push(next);
      }

      const note = await t.query(api.notes.open, { ...s, noteId });
      expect(note.rev).toBe(120);
      expect(note.text).toBe(texts[120]);
      for (const w of words) expect(note.text).toContain(w);
    });
  }
});

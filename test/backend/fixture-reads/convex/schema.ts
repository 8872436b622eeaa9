import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  items: defineTable({ list: v.string(), n: v.number(), tag: v.string(), text: v.string() })
    .index("by_list_n", ["list", "n"])
    .index("by_tag", { fields: ["tag"], staged: true }),
});

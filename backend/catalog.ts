// What the schema says about tables: their indexes (with the implicit by_id and
// by_creation_time, and the `_creationTime, _id` suffix Convex appends to every index)
// and their document validators.
import type { Value } from "convex/values";
import type { SchemaJson } from "./bundle.js";
import { encodeKey } from "./keys.js";
import type { ValidatorJson } from "./validate.js";

export type IndexDef = { name: string; table: string; fields: string[] };
export type Doc = Record<string, Value>;

export class Catalog {
  private indexesByTable = new Map<string, IndexDef[]>();
  private indexesByName = new Map<string, IndexDef>();
  private documentTypes = new Map<string, ValidatorJson>();
  /** Indexes declared `staged: true` (database, search or vector), by full name. */
  private readonly staged = new Set<string>();
  /** Search and vector indexes the schema declares: queries on them fail (not supported here). */
  readonly searchIndexes: string[] = [];
  readonly validatesSchema: boolean;

  constructor(schema: SchemaJson | null, existingTables: Iterable<string>) {
    this.validatesSchema = schema !== null && schema.schemaValidation !== false;
    for (const table of schema?.tables ?? []) {
      const user = table.indexes.map((ix) => ({
        name: `${table.tableName}.${ix.indexDescriptor}`,
        table: table.tableName,
        fields: [...ix.fields, "_creationTime", "_id"],
      }));
      this.addTable(table.tableName, user);
      for (const ix of [...(table.searchIndexes ?? []), ...(table.vectorIndexes ?? [])]) {
        this.searchIndexes.push(`${table.tableName}.${ix.indexDescriptor}`);
      }
      for (const ix of [...(table.stagedDbIndexes ?? []), ...(table.stagedSearchIndexes ?? []), ...(table.stagedVectorIndexes ?? [])]) {
        this.staged.add(`${table.tableName}.${ix.indexDescriptor}`);
      }
      if (table.documentType && typeof table.documentType === "object") {
        this.documentTypes.set(table.tableName, table.documentType as ValidatorJson);
      }
    }
    for (const name of existingTables) if (!this.indexesByTable.has(name)) this.addTable(name, []);
  }

  private addTable(table: string, userIndexes: IndexDef[]): void {
    const all = [
      { name: `${table}.by_id`, table, fields: ["_id"] },
      { name: `${table}.by_creation_time`, table, fields: ["_creationTime", "_id"] },
      ...userIndexes,
    ];
    this.indexesByTable.set(table, all);
    for (const ix of all) this.indexesByName.set(ix.name, ix);
  }

  isDeclared(table: string): boolean {
    return this.documentTypes.has(table);
  }

  /** A table first seen at run time (no schema entry) gets the implicit indexes. */
  indexesOf(table: string): IndexDef[] {
    let found = this.indexesByTable.get(table);
    if (!found) {
      this.addTable(table, []);
      found = this.indexesByTable.get(table)!;
    }
    return found;
  }

  index(name: string): IndexDef | undefined {
    return this.indexesByName.get(name);
  }

  /** Convex's refusal of a query on a staged index, or null when the index is not staged. */
  stagedIndexError(name: string): string | null {
    return this.staged.has(name) ? `Index ${name} is currently staged and not available to query until it is enabled` : null;
  }

  allIndexes(): IndexDef[] {
    return [...this.indexesByName.values()];
  }

  documentType(table: string): ValidatorJson | undefined {
    return this.documentTypes.get(table);
  }
}

export function fieldValue(doc: Doc, fieldPath: string): Value | undefined {
  let current: Value | undefined = doc;
  for (const part of fieldPath.split(".")) {
    if (current === null || typeof current !== "object" || Array.isArray(current) || current instanceof ArrayBuffer) {
      return undefined;
    }
    current = (current as Record<string, Value>)[part];
  }
  return current;
}

export function indexKey(index: IndexDef, doc: Doc): Buffer {
  return encodeKey(index.fields.map((f) => fieldValue(doc, f)));
}

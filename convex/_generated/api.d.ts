/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as access from "../access.js";
import type * as authorship from "../authorship.js";
import type * as crons from "../crons.js";
import type * as errors from "../errors.js";
import type * as history from "../history.js";
import type * as limits from "../limits.js";
import type * as noteStore from "../noteStore.js";
import type * as notes from "../notes.js";
import type * as ops from "../ops.js";
import type * as presence from "../presence.js";
import type * as rateLimit from "../rateLimit.js";
import type * as spaces from "../spaces.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  access: typeof access;
  authorship: typeof authorship;
  crons: typeof crons;
  errors: typeof errors;
  history: typeof history;
  limits: typeof limits;
  noteStore: typeof noteStore;
  notes: typeof notes;
  ops: typeof ops;
  presence: typeof presence;
  rateLimit: typeof rateLimit;
  spaces: typeof spaces;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

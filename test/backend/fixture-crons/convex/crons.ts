import { cronJobs } from "convex/server";
import { api } from "./_generated/api";

const crons = cronJobs();
crons.interval("tick", { seconds: 1 }, api.ticks.tick, {});
export default crons;

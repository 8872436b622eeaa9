// Failing routes for the error-format tests.
import { httpActionGeneric, httpRouter } from "convex/server";
import { ConvexError } from "convex/values";

const http = httpRouter();

http.route({
  path: "/crash",
  method: "GET",
  handler: httpActionGeneric(async () => {
    throw new Error("route failure");
  }),
});

http.route({
  path: "/refuse",
  method: "GET",
  handler: httpActionGeneric(async () => {
    throw new ConvexError({ code: "REFUSED" });
  }),
});

export default http;

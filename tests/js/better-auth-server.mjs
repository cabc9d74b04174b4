// A real Better Auth server with its JWT plugin, as a frontend team runs it:
// email/password sign-up, EdDSA tokens at /api/auth/token, keys at
// /api/auth/jwks. Memory adapter: state lives as long as the process.
//
//   PORT=4100 ROTATION_SECONDS=2 node better-auth-server.mjs
//
// ROTATION_SECONDS makes the signing key expire that soon, so the next
// token is signed by a fresh key (the old one stays published for an hour).
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";

const port = Number(process.env.PORT);
if (!port) throw new Error("PORT is required");
const rotation = Number(process.env.ROTATION_SECONDS ?? 0);
const baseURL = `http://127.0.0.1:${port}`;

const auth = betterAuth({
  baseURL,
  secret: "better-auth-test-only-secret-0123456789abcdef",
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  plugins: [
    jwt({
      jwks: rotation > 0 ? { rotationInterval: rotation, gracePeriod: 3600 } : {},
    }),
  ],
  logger: { level: "error" },
});

http.createServer(toNodeHandler(auth)).listen(port, "127.0.0.1", () => {
  console.log(`better-auth listening on ${baseURL}`);
});

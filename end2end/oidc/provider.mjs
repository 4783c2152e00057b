// A real OpenID Connect provider on 127.0.0.1 for the single sign-on tests (oauth2-mock-server):
// discovery, JWKS, the authorization endpoint (it signs in at once, without a form), PKCE and
// nonce checks, RS256 ID tokens.
//
//   node oidc/provider.mjs [--port N]
//
// Prints `issuer <url>` once listening. Who signs in is chosen by the authorization request's
// `login_hint`: `alice` or `alice:team-a,team-b` (user name, then groups), which the ID token
// carries as `preferred_username`, `sub` and `groups`. Stops on SIGTERM.
import { parseArgs } from "node:util";
import { OAuth2Server } from "oauth2-mock-server";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } });

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
// Who asked for each authorization code.
const hints = new Map();
server.service.on("beforeAuthorizeRedirect", ({ url }, req) => {
  const code = url.searchParams.get("code");
  if (code) hints.set(code, String(req.query.login_hint ?? "oidc-user"));
});
server.service.on("beforeTokenSigning", (token, req) => {
  const hint = hints.get(req.body?.code);
  if (!hint) return;
  const [name, groups = ""] = hint.split(":");
  token.payload.sub = `sub-${name}`;
  token.payload.preferred_username = name;
  token.payload.email = `${name}@example.test`;
  token.payload.groups = groups ? groups.split(",") : [];
});
await server.start(Number(values.port), "127.0.0.1");
console.log(`issuer ${server.issuer.url}`);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

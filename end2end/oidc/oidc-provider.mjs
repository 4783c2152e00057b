// A certified OpenID Connect provider on 127.0.0.1 for the single sign-on tests: panva's
// `oidc-provider`, configured as it ships, so the ID token carries `sub` only and the profile
// claims (`preferred_username`, `email`, `groups`) come from the UserInfo endpoint, as with Okta.
//
//   node oidc/oidc-provider.mjs --redirect-uri URL [--client-id wharf] [--client-secret S] [--port N]
//
// Prints `issuer <url>` once listening. The sign-in and consent steps are answered at once (no
// form): who signs in is chosen by the authorization request's `login_hint`, `alice` or
// `alice:team-a,team-b` (user name, then groups; e-mail `<name>@example.org`); without a hint,
// `oidc-user`. Stops on SIGTERM.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import Provider from "oidc-provider";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "redirect-uri": { type: "string" },
    "client-id": { type: "string", default: "wharf" },
    "client-secret": { type: "string", default: "wharf-secret" },
  },
});
if (!values["redirect-uri"]) {
  console.error("--redirect-uri is required");
  process.exit(2);
}

// Who signed in, by account id: the name and groups of their login hint.
const accounts = new Map();

function accountFromHint(hint) {
  const [name, groups = ""] = String(hint || "oidc-user").split(":");
  const accountId = `sub-${name}`;
  accounts.set(accountId, { name, groups: groups ? groups.split(",") : [] });
  return accountId;
}

let provider;
const server = createServer((req, res) => {
  if (req.url.startsWith("/interaction/")) {
    interact(req, res).catch((error) => {
      res.statusCode = 500;
      res.end(String(error));
    });
    return;
  }
  provider.callback()(req, res);
});
await new Promise((resolve) => server.listen(Number(values.port), "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
provider = new Provider(issuer, {
  clients: [
    {
      client_id: values["client-id"],
      client_secret: values["client-secret"],
      redirect_uris: [values["redirect-uri"]],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  jwks: { keys: [{ ...key, kid: "test-key", use: "sig", alg: "RS256" }] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  // Scope → claims; `conformIdTokenClaims` (on by default) keeps them out of the ID token.
  claims: {
    openid: ["sub"],
    profile: ["preferred_username", "name", "groups"],
    email: ["email", "email_verified"],
  },
  features: { devInteractions: { enabled: false } },
  findAccount: async (_ctx, accountId) => {
    const account = accounts.get(accountId);
    if (!account) return undefined;
    return {
      accountId,
      claims: async () => ({
        sub: accountId,
        preferred_username: account.name,
        name: account.name,
        email: `${account.name}@example.org`,
        email_verified: true,
        groups: account.groups,
      }),
    };
  },
});

// The login and consent prompts, answered without a form.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === "login") {
    const accountId = accountFromHint(details.params.login_hint);
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(" "));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

console.log(`issuer ${issuer}`);
const stop = () => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

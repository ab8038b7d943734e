// A real OpenID provider for the OIDC sign-in tests (tests/blackbox/oidc_sign_in.rs):
// oidc-provider (OpenID Certified), one client, offline, on 127.0.0.1.
//
//   node provider.mjs <port> <client_id> <client_secret> <redirect_uri>
//
// It prints "ready" once it listens and stops when its standard input closes (the
// test's end). What a test drives besides the standard endpoints:
//
// - GET /interaction/<uid>?email=<address>&verified=true|false: the person at the
//   provider's login page. It logs in as that address, `email_verified` as given
//   (no password: the test plays the person), and grants `openid email`.
// - POST /_test/tamper {claims}: the next token response's id_token gets these
//   claims merged in and is signed again with the provider's current key, so the
//   signature is genuine and only the claims are wrong (another audience, another
//   issuer, an expired token, another nonce).
// - POST /_test/rotate: a new signing key with a new kid replaces the old one; the
//   JWKS then lists the new key only.
import http from "node:http";
import Provider from "oidc-provider";
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from "jose";

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error("usage: node provider.mjs <port> <client_id> <client_secret> <redirect_uri>");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

let key = await newKey();
let provider = build(key);
let tamper = null;

async function newKey() {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `key-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  return { privateKey, kid, jwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
}

function build(signing) {
  const configuration = {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [signing.jwk] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    claims: { openid: ["sub"], email: ["email", "email_verified"] },
    // Put the scope's claims into the id_token, as Okta, Entra ID and Google do
    // (oidc-provider keeps them for userinfo by default).
    conformIdTokenClaims: false,
    // An account id is "verified:<address>" or "unverified:<address>".
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => {
        const [state, ...address] = id.split(":");
        return { sub: id, email: address.join(":"), email_verified: state === "verified" };
      },
    }),
    // The test's client is first-party: no consent screen.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope("openid email");
      await grant.save();
      return grant;
    },
    cookies: { keys: ["safepulse-oidc-test-cookies"] },
  };
  const built = new Provider(issuer, configuration);
  built.use(async (ctx, next) => {
    await next();
    if (ctx.path === "/token" && tamper && ctx.body && ctx.body.id_token) {
      const claims = { ...decodeJwt(ctx.body.id_token), ...tamper };
      tamper = null;
      ctx.body = {
        ...ctx.body,
        id_token: await new SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: key.kid })
          .sign(key.privateKey),
      };
    }
  });
  return built;
}

function body(req) {
  return new Promise((resolve, reject) => {
    let text = "";
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

async function interaction(req, res, url) {
  await provider.interactionDetails(req, res);
  const state = url.searchParams.get("verified") === "true" ? "verified" : "unverified";
  const accountId = `${state}:${url.searchParams.get("email")}`;
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId } },
    { mergeWithLastSubmission: false },
  );
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith("/interaction/")) {
      await interaction(req, res, url);
    } else if (req.method === "POST" && url.pathname === "/_test/tamper") {
      tamper = JSON.parse(await body(req));
      res.end("ok");
    } else if (req.method === "POST" && url.pathname === "/_test/rotate") {
      key = await newKey();
      provider = build(key);
      res.end(key.kid);
    } else {
      provider.callback()(req, res);
    }
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});

server.listen(Number(port), "127.0.0.1", () => console.log("ready"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();

// An independent OpenID provider for the browser tests: npm's oidc-provider (OpenID-certified), v9, on a loopback
// origin of its own, standing in for an OPL's institutional provider (Keycloak, Entra ID...). Test only.
//
// Started by tests/browser/oidc_provider.py as `node tests/oidc/server.mjs` with:
//   OIDC_TEST_HOST              address to listen on (another loopback address than the app's)
//   OIDC_TEST_CLIENT_ID / _SECRET   the app's confidential client
//   OIDC_TEST_REDIRECT_URIS     space-separated redirect URIs of the app (its port is only known at test time)
//   OIDC_TEST_POST_LOGOUT_URIS  space-separated post-logout redirect URIs of the app
// It listens on a free port and prints one JSON line, {"issuer": "http://HOST:PORT"}, once it is ready.
//
// The login page asks for a username and offers a "second factor" checkbox: the interaction ends with
// {login: {accountId, acr, amr}}, so the id_token carries acr/amr as a real provider's would after step-up.
// Consent is granted without asking (a first-party client, as an OPL configures its own app).
// POST /_test/tamper {"claim": "iss"|"aud"} makes the next id_token from /token be re-signed with this provider's
// own key and a wrong iss or aud: only the claim is wrong, the signature is valid.

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// username → the person; `sub` is opaque, as institutional providers' subjects are (tests check it is never shown).
const ACCOUNTS = {
  revisora: { sub: 'u4817-0001', name: 'Rebeca Revisora IEPC', email: 'revisora@iepc.example' },
  'admin-opl': { sub: 'u4817-0002', name: 'Octavio Admin IEPC', email: 'admin@iepc.example' },
  ciudadana: { sub: 'u4817-0003', name: 'Cecilia Ciudadana', email: 'cecilia@correo.example' },
};
const bySubject = Object.fromEntries(Object.values(ACCOUNTS).map((person) => [person.sub, person]));
// What a step-up to a second factor looks like here: an LoA acr and an "otp" method next to the password.
const ACR_ONE_FACTOR = 'urn:registro:test:loa:1';
const ACR_TWO_FACTORS = 'urn:registro:test:loa:2';

const host = process.env.OIDC_TEST_HOST || '127.0.0.3';
const words = (name) => (process.env[name] || '').split(/\s+/).filter(Boolean);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex'),
};
let tamperNext = null; // "iss" | "aud" | null

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  // No external fonts or scripts (the default pages import Google Fonts): nothing leaves the machine.
  return `<!doctype html><html lang="es"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:1rem auto;padding:0 1rem}label,button{display:block;
margin:.75rem 0}input[type=text]{font-size:1rem;padding:.5rem;width:100%}button{font-size:1rem;padding:.6rem 1rem}
</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return req.headers['content-type']?.startsWith('application/json')
    ? JSON.parse(text || '{}') : Object.fromEntries(new URLSearchParams(text));
}

const base64url = (buffer) => Buffer.from(buffer).toString('base64url');

function resigned(idToken, claim, issuer) {
  // The provider's own key signs a token whose only fault is the claim: iss or aud says somebody else.
  const [header, payload] = idToken.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  if (claim === 'iss') payload.iss = `${issuer}/otro-emisor`;
  if (claim === 'aud') payload.aud = 'otra-aplicacion';
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${base64url(sign('sha256', Buffer.from(input), privateKey))}`;
}

function configuration() {
  return {
    clients: [{
      client_id: process.env.OIDC_TEST_CLIENT_ID,
      client_secret: process.env.OIDC_TEST_CLIENT_SECRET,
      client_name: 'Registro Ciudadano',
      redirect_uris: words('OIDC_TEST_REDIRECT_URIS'),
      post_logout_redirect_uris: words('OIDC_TEST_POST_LOGOUT_URIS'),
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true }, // every client, confidential ones too, as the app always sends S256
    acrValues: [ACR_ONE_FACTOR, ACR_TWO_FACTORS],
    // acr and amr in every id_token (as Keycloak's mappers put them), not only when the claims parameter asks.
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'],
      sid: null, iss: null,
    },
    conformIdTokenClaims: false, // name and e-mail in the id_token, as Keycloak and Entra ID send them
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true, logoutSource,
      postLogoutSuccessSource } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => (bySubject[sub] ? {
      accountId: sub,
      claims: () => ({ sub, name: bySubject[sub].name, email: bySubject[sub].email, email_verified: true }),
    } : undefined),
    loadExistingGrant,
    renderError: (ctx, out) => { ctx.type = 'html'; ctx.body = page('Error', `<pre>${escapeHtml(JSON.stringify(out))}</pre>`); },
  };
}

async function loadExistingGrant(ctx) {
  // Consent is implied for this first-party client: a grant of what it asked for, made once per session.
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
  const found = grantId && await oidc.provider.Grant.find(grantId);
  if (found) return found;
  const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
  grant.addOIDCScope(oidc.requestParamScopes ? [...oidc.requestParamScopes].join(' ') : 'openid');
  await grant.save();
  return grant;
}

async function logoutSource(ctx, form) {
  ctx.body = page('¿Cerrar tu sesión en el proveedor?', `${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sí, cerrar sesión</button>
<button type="submit" form="op.logoutForm">No, seguir con la sesión</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Sesión cerrada en el proveedor', '<p>Ya puedes cerrar esta ventana.</p>');
}

function loginPage(uid, clientName) {
  return page(`Entrar a ${clientName}`, `
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label for="usuario">Usuario</label><input id="usuario" name="usuario" type="text" autocomplete="username" required>
  <label><input name="segundo_factor" type="checkbox" value="1"> Comprobé el segundo factor</label>
  <button type="submit">Entrar</button>
</form>
<form method="post" action="/interaction/${escapeHtml(uid)}/cancelar"><button type="submit">Cancelar</button></form>`);
}

function interactionRoutes(provider) {
  return async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([\w-]+)(?:\/(login|cancelar))?$/);
    if (!match) return next();
    const [, uid, step] = match;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    if (!step && ctx.method === 'GET') {
      const client = await provider.Client.find(details.params.client_id);
      ctx.type = 'html';
      ctx.body = loginPage(uid, client?.clientName || 'la aplicación');
      return undefined;
    }
    if (ctx.method !== 'POST') ctx.throw(405);
    let result;
    if (step === 'cancelar') {
      result = { error: 'access_denied', error_description: 'the person cancelled' };
    } else {
      const form = await readForm(ctx.req);
      const person = Object.hasOwn(ACCOUNTS, form.usuario) ? ACCOUNTS[form.usuario] : undefined;
      if (!person) {
        ctx.type = 'html';
        ctx.status = 400;
        ctx.body = page('Usuario desconocido', `<p><a href="/interaction/${escapeHtml(uid)}">Volver</a></p>`);
        return undefined;
      }
      const twoFactors = form.segundo_factor === '1';
      result = { login: { accountId: person.sub, acr: twoFactors ? ACR_TWO_FACTORS : ACR_ONE_FACTOR,
        amr: twoFactors ? ['pwd', 'otp'] : ['pwd'], remember: true } };
    }
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false; // interactionFinished has answered (303 back to the authorization endpoint)
    return undefined;
  };
}

function testControl(issuer) {
  return async (ctx, next) => {
    if (ctx.path === '/_test/tamper' && ctx.method === 'POST') {
      const { claim } = await readForm(ctx.req);
      if (claim !== 'iss' && claim !== 'aud') ctx.throw(400, 'claim must be iss or aud');
      tamperNext = claim;
      ctx.status = 204;
      return undefined;
    }
    await next();
    if (ctx.path === '/token' && tamperNext && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: resigned(ctx.body.id_token, tamperNext, issuer) };
      tamperNext = null;
    }
    return undefined;
  };
}

const server = createServer();
server.listen(0, host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  provider.use(testControl(issuer));
  provider.use(interactionRoutes(provider));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`); // the one line the fixture waits for
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // keep-alive connections would hold the close open
  });
}

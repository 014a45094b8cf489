// A real OpenID provider (panva/oidc-provider) for the hub's sign-in tests.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"port": 0-65535, "clients": [oidc-provider client metadata...],
//          "accounts": {"<login>": {"practitioner_id": "...", "name": "..."}},
//          "acr_values": ["AAL3", "AAL1"], "resource": "https://hub.example/api"}
//
// Code flow with PKCE required, private_key_jwt or client secret authentication, JWT access
// tokens (typ at+jwt, RFC 9068) for the hub's API resource, back-channel logout and
// RP-initiated logout. The login page is the provider's own, plain HTML form: a login, a
// password (any), and the authentication context (acr) the "authenticator" achieved, so a
// test can sign in at AAL3, at a lower level, or with none.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts;

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: config.clients,
  pkce: { required: () => true },
  acrValues: config.acr_values,
  claims: {
    openid: ['sub'],
    profile: ['name', 'practitioner_id'],
  },
  conformIdTokenClaims: false, // the profile claims go in the ID token, as CIS2 and Entra do
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...accounts[id] };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid profile',
        audience: config.resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
      }),
    },
  },
  async extraTokenClaims(ctx, token) {
    const account = accounts[token.accountId];
    return account ? { practitioner_id: account.practitioner_id } : undefined;
  },
  ttl: { IdToken: 600, AccessToken: 600, Session: 3600, Interaction: 600, Grant: 3600 },
  cookies: { keys: ['hub-tests-only-cookie-key'] },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));
provider.on('backchannel.error', (error) => console.error('backchannel.error', error));

async function body(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return Object.fromEntries(new URLSearchParams(raw));
}

function page(res, html) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><title>Test provider</title></head><body>${html}</body></html>`);
}

async function grantEverything(details) {
  const { Grant } = provider;
  const grant = details.grantId
    ? await Grant.find(details.grantId)
    : new Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid profile');
  grant.addResourceScope(config.resource, 'openid profile');
  return grant.save();
}

async function interaction(req, res, uid, submit) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login' && !submit) {
    const choices = ['', ...config.acr_values]
      .map((acr) => `<option value="${acr}"${acr === config.acr_values[0] ? ' selected' : ''}>${acr || 'none'}</option>`)
      .join('');
    return page(res, `<h1>Sign in to the test provider</h1>
      <form method="post" action="/interaction/${escapeHtml(uid)}">
        <label>Login <input name="login" autocomplete="off"></label>
        <label>Password <input name="password" type="password"></label>
        <label>Authentication level <select name="acr">${choices}</select></label>
        <button type="submit">Sign in</button>
      </form>`);
  }
  if (details.prompt.name === 'login') {
    const form = await body(req);
    if (!accounts[form.login]) {
      return provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'unknown login',
      });
    }
    const login = { accountId: form.login, ...(form.acr ? { acr: form.acr } : {}) };
    const grantId = await grantEverything({ ...details, session: { accountId: form.login } });
    return provider.interactionFinished(req, res, { login, consent: { grantId } }, {
      mergeWithLastSubmission: false,
    });
  }
  // consent (a returning session): grant what the hub asks for, as an enterprise IdP does
  const grantId = await grantEverything(details);
  return provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([^/?]+)/.exec(req.url);
  if (!match) return callback(req, res);
  try {
    await interaction(req, res, match[1], req.method === 'POST');
  } catch (error) {
    console.error('interaction error', error);
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('interaction failed');
  }
});
server.listen(config.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// A small Express API protected by express-oauth2-jwt-bearer in strict mode (the RFC 9068
// profile: `typ: at+jwt`, and iss, sub, aud, exp, iat, jti, client_id required), configured from
// our discovery document (issuerBaseURL).
//
//   ISSUER=http://auth.example AUDIENCE=auth-service PORT=3000 node app.mjs
import express from 'express';
import { auth, claimIncludes, requiredScopes } from 'express-oauth2-jwt-bearer';

const app = express();
app.use(
  auth({
    issuerBaseURL: process.env.ISSUER,
    audience: process.env.AUDIENCE,
    tokenSigningAlg: 'ES256',
    strict: true,
    // How long the key set (and the discovery document) is cached, in ms: the JWKS max-age.
    cacheMaxAge: Number(process.env.JWKS_CACHE_MS ?? 300000),
  }),
);

app.get('/orders', (req, res) => {
  const { sub, sid, roles, scope } = req.auth.payload;
  res.json({ sub, sid, roles: roles ?? [], scope: scope ?? '' });
});
app.get('/staff', claimIncludes('roles', 'staff'), (req, res) => res.json({ ok: true }));
app.get('/users/write', requiredScopes('users:write'), (req, res) => res.json({ ok: true }));

// Errors of the middleware: its status (401, 403) and its WWW-Authenticate challenge.
app.use((err, req, res, next) => {
  if (err.headers) res.set(err.headers);
  res.status(err.status ?? 500).json({ error: err.code ?? 'error' });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});

// Verify access tokens the way a Node service does with `jose`: the key set from our JWKS
// (createRemoteJWKSet), then jwtVerify with the issuer, audience, algorithm and `typ` pinned.
//
//   ISSUER=http://auth.example AUDIENCE=auth-service node verify.mjs TOKEN...
//
// Prints one JSON line per token: {"ok": true, "payload": {...}} or {"ok": false, "code": ...}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const issuer = process.env.ISSUER;
const audience = process.env.AUDIENCE;
// The discovery document names the key set (RFC 8414 jwks_uri).
const metadata = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));

for (const token of process.argv.slice(2)) {
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ['ES256'], // pinned: never taken from the token
      typ: 'at+jwt', // RFC 9068: an access token, nothing else
      requiredClaims: ['sub', 'sid', 'jti', 'client_id'],
    });
    console.log(JSON.stringify({ ok: true, payload }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, code: error.code ?? error.name }));
  }
}

// A real OpenID provider for the single sign-on tests: panva's `oidc-provider` (certified by
// the OpenID Foundation), started on a random loopback port. It prints `idp: <issuer>` once it
// listens, and stops when its standard input closes (the test that started it ended).
//
// Its development login screen accepts any login and password; the login is the person's
// e-mail address, and the groups claim comes from the address's local part:
//   admin.*  -> ["sealbook-admins"]     audit.*  -> ["auditors", "staff"]
//   unverified.* -> email_verified false   silent.* -> no email_verified at all
//   anything else -> ["staff"]
// The client is the one Sealbook's tenant registers: CLIENT_ID, CLIENT_SECRET and REDIRECT_URI
// (one or more, space-separated) from the environment.
import Provider from 'oidc-provider';

const redirects = (process.env.REDIRECT_URI || '').split(' ').filter(Boolean);
if (!process.env.CLIENT_ID || !process.env.CLIENT_SECRET || redirects.length === 0) {
  console.error('idp: CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are required');
  process.exit(2);
}

function groups(email) {
  const local = email.split('@')[0];
  if (local.startsWith('admin.')) return ['sealbook-admins'];
  if (local.startsWith('audit.')) return ['auditors', 'staff'];
  return ['staff'];
}

const configuration = {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: redirects,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => {
      const c = {
        sub: id,
        email: id,
        email_verified: !id.startsWith('unverified.'),
        name: id.split('@')[0].replace(/[._]/g, ' '),
        groups: groups(id),
      };
      if (id.startsWith('silent.')) delete c.email_verified;
      return c;
    },
  }),
  features: { devInteractions: { enabled: true } },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
};

const server = (await import('node:http')).createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  // Quiet the development warnings: they go to stderr, which the test shows only on failure.
  server.on('request', provider.callback());
  console.log(`idp: ${issuer}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

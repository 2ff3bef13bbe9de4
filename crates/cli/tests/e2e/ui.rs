//! End to end: the web UI over real HTTP, as a browser without JavaScript uses it (forms, cookies,
//! redirects followed by hand). An invited admin sets a password through the one-time link, signs
//! in, searches, opens an event with its verified badge and correlation timeline, invites an
//! auditor who sees personal values masked and is refused what the matrix refuses; every value
//! that came from an event is escaped; another tenant's event answers like an unknown one; forms
//! need their CSRF token and this origin; sign-out, deactivation and failed sign-ins behave.

use crate::common::{event, tempdir, Server, BIN};
use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

/// A browser: no redirects followed, cookies kept by hand (the session's, an operator's
/// access, and a single sign-on flow's).
pub(crate) struct Browser<'a> {
    pub(crate) s: &'a Server,
    pub(crate) http: Client,
    pub(crate) cookie: Option<String>,
    pub(crate) access: Option<String>,
    pub(crate) sso: Option<String>,
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

impl<'a> Browser<'a> {
    pub(crate) fn new(s: &'a Server) -> Browser<'a> {
        Browser {
            s,
            http: Client::builder()
                .redirect(Policy::none())
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap(),
            cookie: None,
            access: None,
            sso: None,
        }
    }

    /// The `Cookie` header this browser sends, if any.
    fn cookie_header(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(c) = &self.cookie {
            parts.push(format!("__Host-sealbook={c}"));
        }
        if let Some(a) = &self.access {
            parts.push(format!("__Host-sealbook-access={a}"));
        }
        if let Some(f) = &self.sso {
            parts.push(format!("__Host-sealbook-sso={f}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn keep_cookie(&mut self, r: &Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let value = (!value.is_empty()).then(|| value.to_owned());
            match name {
                "__Host-sealbook" => self.cookie = value,
                "__Host-sealbook-access" => self.access = value,
                "__Host-sealbook-sso" => self.sso = value,
                other => panic!("unexpected cookie {other}"),
            }
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> Response {
        let mut rq = self.http.get(format!("{}{path}", self.s.url));
        if let Some(c) = self.cookie_header() {
            rq = rq.header("cookie", c);
        }
        let r = rq.send().unwrap();
        self.keep_cookie(&r);
        r
    }

    pub(crate) fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let mut rq = self
            .http
            .post(format!("{}{path}", self.s.url))
            .header("sec-fetch-site", "same-origin")
            .form(form);
        if let Some(c) = self.cookie_header() {
            rq = rq.header("cookie", c);
        }
        let r = rq.send().unwrap();
        self.keep_cookie(&r);
        r
    }

    pub(crate) fn page(&mut self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status(), 200, "{path}");
        r.text().unwrap()
    }

    /// Sets the password through `link` (a path) and signs in.
    pub(crate) fn set_password_and_sign_in(&mut self, link: &str, tenant: &str, email: &str) {
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let page = self.page(link);
        assert!(page.contains(email));
        let r = self.post(
            "/ui/set-password",
            &[
                ("token", &token),
                ("password", "short"),
                ("confirm", "short"),
            ],
        );
        assert_eq!(r.status(), 422);
        let r = self.post(
            "/ui/set-password",
            &[
                ("token", &token),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        );
        assert_eq!(r.status(), 303);
        // The link works once.
        assert_eq!(self.get(link).status(), 410);
        self.sign_in(tenant, email, PASSWORD, 303);
    }

    pub(crate) fn sign_in(
        &mut self,
        tenant: &str,
        email: &str,
        password: &str,
        expect: u16,
    ) -> Response {
        let r = self.post(
            "/ui/login",
            &[
                ("tenant", tenant),
                ("email", email),
                ("password", password),
                ("next", "/ui/search"),
            ],
        );
        assert_eq!(r.status(), expect);
        r
    }
}

/// The value of the first `name="_csrf"` field of a page.
pub(crate) fn csrf(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    page[at..].split('"').next().unwrap().to_owned()
}

/// The id of the person with `email` on the people page (from their row's forms).
pub(crate) fn person_id(page: &str, email: &str) -> String {
    let row = &page[page.find(email).expect("the person's row")..];
    let at = row.find("/ui/people/usr_").unwrap() + 11;
    row[at..].split('/').next().unwrap().to_owned()
}

/// The set-password link a page shows.
fn link_in(page: &str) -> String {
    let at = page.find("/ui/set-password?token=").expect("a link");
    page[at..].split('<').next().unwrap().to_owned()
}

fn invite(s: &Server, tenant: &str, email: &str, role: &str) -> String {
    let r = s.post_json(
        &format!("/v1/tenants/{tenant}/users"),
        &s.admin,
        &json!({"email": email, "role": role, "name": "Alice Admin"}),
    );
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    assert_eq!(v["user"]["role"], role);
    assert!(v.to_string().find("password_hash").is_none());
    v["set_password_path"].as_str().unwrap().to_owned()
}

/// A person of `tenant` with `role`, invited by the operator, signed in with a password.
pub(crate) fn signed_in<'a>(s: &'a Server, tenant: &str, email: &str, role: &str) -> Browser<'a> {
    let mut b = Browser::new(s);
    b.set_password_and_sign_in(&invite(s, tenant, email, role), tenant, email);
    b
}

const XSS_NAME: &str = "<script>alert('x')</script>";
const XSS_ID: &str = "\"><img src=x onerror=alert(1)>";

#[test]
fn an_admin_signs_in_searches_verifies_and_invites_an_auditor_who_sees_less() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let other = s.tenant_with_key("globex");
    let mut flow: Vec<Value> = [
        "integration.requested",
        "integration.failed",
        "integration.replayed",
    ]
    .iter()
    .enumerate()
    .map(|(i, _)| {
        let mut e = event(&format!("flow-{i}"));
        e["context"]["correlation_id"] = json!("corr-4472");
        e
    })
    .collect();
    let mut slashed = event("slashed/1");
    slashed["subject"]["id"] = json!("A/B 7");
    flow.push(slashed);
    let mut hostile = event("hostile-1");
    hostile["actor"]["name"] = json!(XSS_NAME);
    hostile["subject"]["id"] = json!(XSS_ID);
    hostile["refs"] = json!({"order_number": XSS_ID});
    flow.push(hostile);
    s.ingest(&key, &Value::Array(flow));
    s.ingest(&other, &json!([event("globex-only")]));
    s.sign_checkpoint(&key);

    // The first admin: invited by the operator, sets a password, signs in.
    let mut admin = Browser::new(&s);
    let r = admin.get("/ui/search");
    assert_eq!(r.status(), 303, "no session: to the sign-in page");
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/ui/login?next="));
    let link = invite(&s, "acme", "Alice@Example.com", "tenant_admin");
    admin.set_password_and_sign_in(&link, "acme", "alice@example.com");
    let r = admin.get("/ui/search");
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = r.text().unwrap();
    assert!(page.contains("flow-0") || page.contains("Ada Lovelace"));
    assert!(!page.contains("globex-only"));
    // Hostile values are text, never markup.
    assert!(
        !page.contains("<script>alert") && !page.contains("<img src=x"),
        "{page}"
    );
    assert!(page.contains("&lt;script&gt;") || page.contains("&#60;script&#62;"));

    // Filters live in the URL.
    let page = admin.page("/ui/search?correlation_id=corr-4472");
    assert_eq!(page.matches("/ui/events/flow-").count(), 3);
    assert!(!page.contains("hostile-1"));
    let page =
        admin.page("/ui/search?from=2026-03-01T10%3A00&to=2026-03-01T10%3A30&tz=Europe%2FParis");
    assert!(page.contains("flow-0"), "09:15:30Z is 10:15:30 in Paris");
    let page = admin.page("/ui/search?from=2026-03-01T10%3A00&to=2026-03-01T10%3A30&tz=UTC");
    assert!(page.contains("No events match"));
    assert_eq!(admin.get("/ui/search?bogus=1").status(), 400);

    // An event: the verified badge, the timeline, escaping.
    let page = admin.page("/ui/events/flow-1");
    assert!(page.contains("badge ok\">Verified"), "{page}");
    assert!(page.contains("included in the signed checkpoint of size"));
    let timeline = &page[page.find("class=\"timeline\"").expect("a timeline")..];
    let timeline = &timeline[..timeline.find("</ol>").unwrap()];
    assert_eq!(
        timeline.matches("<li").count(),
        3,
        "the correlation timeline"
    );
    assert!(
        timeline.find("flow-0").unwrap() < timeline.find("flow-2").unwrap(),
        "oldest first"
    );
    assert!(page.contains("aria-current=\"true\""));
    let page = admin.page("/ui/events/hostile-1");
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"));
    // Subject history.
    let page = admin.page("/ui/subjects/order/o-1001");
    assert!(page.contains("History of order o-1001") && page.contains("flow-2"));
    // Ids holding a slash or a space stay one path segment.
    let page = admin.page("/ui/search?correlation_id=req-7&subject=order%3AA%2FB%207");
    assert!(page.contains("href=\"/ui/events/slashed%2F1\""), "{page}");
    assert!(page.contains("href=\"/ui/subjects/order/A%2FB%207\""));
    assert!(admin
        .page("/ui/subjects/order/A%2FB%207")
        .contains("History of order A/B 7"));
    assert!(admin.page("/ui/events/slashed%2F1").contains("A/B 7"));
    // Another tenant's event answers like one that does not exist.
    let a = admin.get("/ui/events/globex-only");
    let b = admin.get("/ui/events/no-such-event");
    assert_eq!(
        (a.status(), b.status()),
        (
            reqwest::StatusCode::NOT_FOUND,
            reqwest::StatusCode::NOT_FOUND
        )
    );
    assert_eq!(a.text().unwrap(), b.text().unwrap());

    // A CSV of the current filters, recorded with the person as actor.
    let r = admin.get("/ui/export?correlation_id=corr-4472&format=csv&bom=true");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.text().unwrap().matches("\r\n").count(),
        4,
        "header and three rows"
    );
    let exported = s.all_events(&key, "&type=audit_log.exported");
    assert_eq!(exported[0]["actor"]["type"], "user");
    assert_eq!(exported[0]["data"]["format"], "csv");

    // Inviting an auditor from the people page; forms need the CSRF token and this origin.
    let people = admin.page("/ui/people");
    let token = csrf(&people);
    let form = [
        ("_csrf", token.as_str()),
        ("email", "bob@example.com"),
        ("name", "Bob"),
        ("role", "auditor"),
    ];
    let r = admin.post(
        "/ui/people",
        &[
            ("email", "x@example.com"),
            ("name", ""),
            ("role", "viewer"),
            ("_csrf", "forged"),
        ],
    );
    assert_eq!(r.status(), 400, "a forged CSRF token changes nothing");
    let cross = admin
        .http
        .post(format!("{}/ui/people", s.url))
        .header(
            "cookie",
            format!("__Host-sealbook={}", admin.cookie.clone().unwrap()),
        )
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(cross.status(), 400, "a cross-site post changes nothing");
    let r = admin.post("/ui/people", &form);
    assert_eq!(r.status(), 201);
    let page = r.text().unwrap();
    let bob_link = link_in(&page);
    assert!(!admin.page("/ui/people").contains("x@example.com"));

    let mut bob = Browser::new(&s);
    bob.set_password_and_sign_in(&bob_link, "acme", "bob@example.com");
    let page = bob.page("/ui/search");
    assert!(
        page.contains("[masked]") && !page.contains("Ada Lovelace"),
        "an auditor sees personal values masked"
    );
    assert!(page.contains("Personal values are masked"));
    assert!(!page.contains("Download CSV"));
    let page = bob.page("/ui/events/flow-1");
    assert!(!page.contains("ada@example.com") && page.contains("badge ok\">Verified"));
    // What the matrix refuses an auditor, the UI refuses.
    for (path, status) in [
        ("/ui/search?q=lovelace", 403),
        ("/ui/export?format=csv", 403),
        ("/ui/people", 403),
        ("/ui/keys", 403),
    ] {
        assert_eq!(bob.get(path).status(), status, "{path}");
    }
    let bob_csrf = csrf(&bob.page("/ui/account"));
    assert_eq!(
        bob.post(
            "/ui/people",
            &[
                ("_csrf", &bob_csrf),
                ("email", "eve@example.com"),
                ("name", ""),
                ("role", "tenant_admin")
            ]
        )
        .status(),
        403
    );

    // The log holds who did what, never a secret.
    let audit = s.all_events(&key, "&recorded_by=sealbook");
    let types: Vec<&str> = audit.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for t in [
        "user.invited",
        "user.password_changed",
        "user.login_succeeded",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains(&bob_link[23..]));

    // Deactivating Bob ends his session at once.
    let people = admin.page("/ui/people");
    let bob_id = person_id(&people, "bob@example.com");
    let r = admin.post(
        &format!("/ui/people/{bob_id}/deactivate"),
        &[("_csrf", &csrf(&people))],
    );
    assert_eq!(r.status(), 303);
    assert_eq!(
        bob.get("/ui/search").status(),
        303,
        "a deactivated person's session ends"
    );
    bob.sign_in("acme", "bob@example.com", PASSWORD, 401);
    // The last tenant admin cannot be demoted.
    let people = admin.page("/ui/people");
    let alice_id = person_id(&people, "alice@example.com");
    let r = admin.post(
        &format!("/ui/people/{alice_id}/role"),
        &[("_csrf", &csrf(&people)), ("role", "viewer")],
    );
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("last active tenant admin"));
    assert!(admin.page("/ui/people").contains("Tenant admin"));

    // Signing out revokes the session: the old cookie no longer opens anything.
    let cookie = admin.cookie.clone().unwrap();
    let token = csrf(&admin.page("/ui/search"));
    let r = admin.post("/ui/logout", &[("_csrf", &token)]);
    assert_eq!(r.status(), 303);
    admin.cookie = Some(cookie);
    assert_eq!(admin.get("/ui/search").status(), 303);
}

#[test]
fn sign_in_fails_alike_records_failures_and_is_rate_limited() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let link = invite(&s, "acme", "carol@example.com", "viewer");
    let mut b = Browser::new(&s);
    b.set_password_and_sign_in(&link, "acme", "carol@example.com");
    let r = b.sign_in("acme", "carol@example.com", PASSWORD, 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }

    let mut stranger = Browser::new(&s);
    let wrong = stranger
        .sign_in("acme", "carol@example.com", "not her password", 401)
        .text()
        .unwrap();
    let unknown = stranger
        .sign_in("acme", "nobody@example.com", "whatever", 401)
        .text()
        .unwrap();
    let no_tenant = stranger
        .sign_in("nope", "carol@example.com", "whatever", 401)
        .text()
        .unwrap();
    let strip = |p: &str| {
        p.replace("nobody@example.com", "")
            .replace("carol@example.com", "")
            .replace("\"nope\"", "\"acme\"")
    };
    assert_eq!(strip(&wrong), strip(&unknown));
    assert_eq!(strip(&wrong), strip(&no_tenant));
    let failed = s.all_events(&key, "&type=user.login_failed");
    assert_eq!(failed.len(), 2);
    assert!(
        !serde_json::to_string(&failed)
            .unwrap()
            .contains("nobody@example.com"),
        "an unknown address typed is not recorded"
    );

    // Five failures for the account: the sixth attempt is refused before any check, even right.
    for _ in 0..4 {
        stranger.sign_in("acme", "carol@example.com", "still wrong", 401);
    }
    let r = stranger.sign_in("acme", "carol@example.com", PASSWORD, 429);
    assert!(r.headers().contains_key("retry-after"));

    // The operator's CLI prints a link that works.
    let out = std::process::Command::new(BIN)
        .args([
            "user",
            "create",
            "--tenant",
            "acme",
            "--email",
            "dan@example.com",
            "--role",
            "support",
            "--url",
            &s.url,
        ])
        .env("SEALBOOK_ADMIN_TOKEN", &s.admin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let printed = printed.trim();
    assert!(
        printed.starts_with(&format!("{}/ui/set-password?token=", s.url)),
        "{printed}"
    );
    assert_eq!(Browser::new(&s).get(&printed[s.url.len()..]).status(), 200);
    // Inviting the same address again is a conflict; a platform role is refused.
    let r = s.post_json(
        "/v1/tenants/acme/users",
        &s.admin,
        &json!({"email": "DAN@example.com", "role": "viewer"}),
    );
    assert_eq!(r.status(), 409);
    let r = s.post_json(
        "/v1/tenants/acme/users",
        &s.admin,
        &json!({"email": "e@example.com", "role": "operator"}),
    );
    assert_eq!(r.status(), 422);
    let r = s.post_json(
        "/v1/tenants/nope/users",
        &s.admin,
        &json!({"email": "e@example.com", "role": "viewer"}),
    );
    assert_eq!(r.status(), 404);
}

/// Every tenant role against every action the UI offers: allowed exactly where the one matrix
/// (`sealbook_domain::access::allows`) says, refused (403) or masked elsewhere.
#[test]
fn every_role_gets_what_the_matrix_allows_in_the_ui() {
    use sealbook_domain::{allows, Action, Grant, Role};
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    s.ingest(&key, &json!([event("e-1")]));
    s.sign_checkpoint(&key);
    for role in Role::ALL.into_iter().filter(|r| r.is_tenant_role()) {
        let email = format!("{}@example.com", role.as_str());
        let link = invite(&s, "acme", &email, role.as_str());
        let mut b = Browser::new(&s);
        b.set_password_and_sign_in(&link, "acme", &email);
        let may = |a: Action| allows(&Grant::Person(role), a);
        let status = |ok: bool| if ok { 200 } else { 403 };
        for (path, action) in [
            ("/ui/search", Action::SearchEvents),
            ("/ui/export?format=csv", Action::ExportEvents),
            ("/ui/exports", Action::ExportEvents),
            ("/ui/people", Action::ManagePeople),
            ("/ui/sso", Action::ManageSettings),
            ("/ui/keys", Action::ManageKeys),
            ("/ui/catalog", Action::ReadCatalog),
            ("/ui/settings", Action::ManageSettings),
            ("/ui/operator", Action::AccessTenants),
        ] {
            let r = b.get(path);
            assert_eq!(r.status(), status(may(action)), "{role} {path}");
            let _ = r.text();
        }
        let r = b.get("/ui/export?format=jsonl");
        assert_eq!(
            r.status(),
            status(may(Action::ExportEvents) && may(Action::ReadPersonalBundles)),
            "{role} jsonl"
        );
        let _ = r.text();
        let page = b.page("/ui/events/e-1");
        assert_eq!(
            page.contains("Ada Lovelace"),
            may(Action::ViewPersonal),
            "{role} personal"
        );
        assert_eq!(
            page.contains("[masked]"),
            !may(Action::ViewPersonal),
            "{role} masked"
        );
        assert_eq!(
            page.contains("badge ok\">Verified"),
            may(Action::VerifyLog),
            "{role} verify"
        );
        let search = b.get("/ui/search?q=lovelace");
        assert_eq!(
            search.status(),
            status(may(Action::ViewPersonal)),
            "{role} free text"
        );
    }
}

/// The 6-digit RFC 6238 code of base32 `key` at Unix time `t`, computed here independently of
/// the server (RFC 4226 dynamic truncation over HMAC-SHA-1).
fn totp_code(key: &str, t: u64) -> String {
    use hmac::Mac;
    let secret = data_encoding::BASE32_NOPAD.decode(key.as_bytes()).unwrap();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&secret).unwrap();
    mac.update(&(t / 30).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 15) as usize;
    let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{n:06}")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The value of the field `name` of a page's form.
fn field(page: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let at = page.find(&pat).unwrap_or_else(|| panic!("a {name} field")) + pat.len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// Every file of a directory tree, concatenated.
pub(crate) fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap_or_default());
        }
    }
    out
}

#[test]
fn a_second_factor_is_set_up_asked_at_sign_in_used_once_and_reset_by_an_admin() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let mut alice = signed_in(&s, "acme", "alice@example.com", "tenant_admin");
    let mut bob = signed_in(&s, "acme", "bob@example.com", "viewer");
    assert!(bob.page("/ui/account").contains("Set up two-step sign-in"));

    // Set-up: a key shown once, enabled only by a right code from it.
    let setup = bob.page("/ui/account/totp");
    let at = setup.find("id=\"totp-key\">").unwrap() + 14;
    let secret = setup[at..].split('<').next().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "20 bytes in base32");
    assert!(setup.contains("otpauth://totp/Sealbook%20acme:bob%40example.com?secret="));
    let sealed = field(&setup, "sealed");
    let token = csrf(&setup);
    let wrong = if totp_code(&secret, unix_now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = bob.post(
        "/ui/account/totp",
        &[("_csrf", &token), ("sealed", &sealed), ("code", wrong)],
    );
    assert_eq!(r.status(), 422);
    let now = unix_now();
    let r = bob.post(
        "/ui/account/totp",
        &[
            ("_csrf", &token),
            ("sealed", &sealed),
            ("code", &totp_code(&secret, now)),
        ],
    );
    assert_eq!(r.status(), 303);
    assert!(bob.page("/ui/account").contains("badge ok\">On"));
    let raw = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let disk = all_bytes(dir.path());
    assert!(
        !disk.windows(raw.len()).any(|w| w == raw.as_slice())
            && !disk.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the key is stored only sealed"
    );

    // Sign-in now asks for a code after the password; a code works once.
    let mut other = Browser::new(&s);
    let r = other.sign_in("acme", "bob@example.com", PASSWORD, 200);
    assert!(
        other.cookie.is_none(),
        "no session before the second factor"
    );
    let page = r.text().unwrap();
    assert!(page.contains("Two-step sign-in"));
    let pending = field(&page, "pending");
    let r = other.post("/ui/login/totp", &[("pending", &pending), ("code", wrong)]);
    assert_eq!(r.status(), 401);
    assert!(other.cookie.is_none());
    // The set-up spent the current step; the next one (accepted for clock drift) signs in.
    let next = totp_code(&secret, unix_now().max(now + 30));
    let r = other.post("/ui/login/totp", &[("pending", &pending), ("code", &next)]);
    assert_eq!(r.status(), 303);
    assert!(other.cookie.is_some());
    let mut replay = Browser::new(&s);
    let page = replay
        .sign_in("acme", "bob@example.com", PASSWORD, 200)
        .text()
        .unwrap();
    let r = replay.post(
        "/ui/login/totp",
        &[("pending", &field(&page, "pending")), ("code", &next)],
    );
    assert_eq!(r.status(), 401, "a code seen once cannot be replayed");
    let last = if pending.ends_with('x') { "y" } else { "x" };
    let forged = format!("{}{last}", &pending[..pending.len() - 1]);
    let r = replay.post("/ui/login/totp", &[("pending", &forged), ("code", &next)]);
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("too_slow"));
    assert!(
        replay.cookie.is_none(),
        "an altered pending sign-in opens nothing"
    );

    let failed = s.all_events(&key, "&type=user.login_failed");
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["data"]["failure_reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"bad_code") && reasons.contains(&"code_reused"),
        "{reasons:?}"
    );
    let ok = s.all_events(&key, "&type=user.login_succeeded");
    assert!(ok.iter().any(|e| e["data"]["mfa"] == json!(true)));
    let mfa = s.all_events(&key, "&type=user.mfa_changed");
    assert_eq!(mfa[0]["data"], json!({"factor": "totp", "enabled": true}));

    // A lost device: an admin resets it, and the password alone signs in again.
    let people = alice.page("/ui/people");
    assert!(people.contains("Two-step"));
    let bob_id = person_id(&people, "bob@example.com");
    let bob_csrf = csrf(&bob.page("/ui/account"));
    let r = bob.post(
        &format!("/ui/people/{bob_id}/totp/reset"),
        &[("_csrf", &bob_csrf)],
    );
    assert_eq!(r.status(), 403, "a viewer may not reset anyone's factor");
    let r = alice.post(
        &format!("/ui/people/{bob_id}/totp/reset"),
        &[("_csrf", &csrf(&people))],
    );
    assert_eq!(r.status(), 303);
    Browser::new(&s).sign_in("acme", "bob@example.com", PASSWORD, 303);
    let mfa = s.all_events(&key, "&type=user.mfa_changed");
    assert_eq!(mfa[0]["data"]["enabled"], json!(false));
    assert_eq!(mfa[0]["actor"]["name"], "Alice Admin");
}

#[test]
fn viewer_tokens_embed_a_read_only_view_within_their_limits_and_the_tenants_settings() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let other = s.tenant_with_key("globex");
    let (_, admin_key) = s.create_key("acme", &["tenant:admin"]);
    let mut mine = event("mine-order");
    mine["actor"]["id"] = json!("u-7");
    let mut mine_user = event("mine-user");
    mine_user["actor"]["id"] = json!("u-7");
    mine_user["type"] = json!("user.role_assigned");
    mine_user["data"] = json!({"role": "admin"});
    let mut theirs = event("theirs-order");
    theirs["actor"]["id"] = json!("u-8");
    let mut hostile = event("hostile-order");
    hostile["actor"]["id"] = json!("u-7");
    hostile["subject"]["id"] = json!(XSS_ID);
    hostile["actor"]["name"] = json!(XSS_NAME);
    s.ingest(&key, &json!([mine, mine_user, theirs, hostile]));
    s.ingest(&other, &json!([event("globex-order")]));

    // Minting: a tenant:admin key only, limits checked.
    let r = s.post_json("/v1/viewer-tokens", &key, &json!({}));
    assert_eq!(r.status(), 403);
    let r = s.post_json("/v1/viewer-tokens", &admin_key, &json!({"ttl_seconds": 10}));
    assert_eq!(r.status(), 422);
    let p: Value = r.json().unwrap();
    assert!(p.to_string().contains("/ttl_seconds"), "{p}");
    let r = s.post_json(
        "/v1/viewer-tokens",
        &admin_key,
        &json!({"tenant": "globex"}),
    );
    assert_eq!(r.status(), 400, "a token cannot name its tenant");
    let r = s.post_json(
        "/v1/viewer-tokens",
        &admin_key,
        &json!({"actor": "u-7", "type_prefix": "order."}),
    );
    assert_eq!(r.status(), 201);
    let minted: Value = r.json().unwrap();
    assert_eq!(minted["tenant"], "acme");
    let url = minted["url"].as_str().unwrap().to_owned();
    let token = minted["token"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/ui/embed?token="));

    // The view: no cookie, framed by nobody until the tenant allows a site; read only.
    let mut viewer = Browser::new(&s);
    let r = viewer.get(&url);
    if r.status() != 200 {
        panic!("{}", r.text().unwrap());
    }
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!r.headers().contains_key("x-frame-options"));
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let page = r.text().unwrap();
    assert!(
        page.contains("mine-order") && page.contains("hostile-order"),
        "{page}"
    );
    assert!(!page.contains("theirs-order"), "another actor's event");
    assert!(!page.contains("mine-user"), "a type outside the prefix");
    assert!(!page.contains("globex"));
    assert!(
        !page.contains("Ada Lovelace") && page.contains("[masked]"),
        "personal values masked"
    );
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"));
    assert!(!page.contains("/ui/export") && !page.contains("Sign out"));
    // A filter the token fixes cannot be widened from the URL.
    let page = viewer.page(&format!("{url}&actor=u-8"));
    assert!(!page.contains("theirs-order") && page.contains("mine-order"));
    let page = viewer.page(&format!("{url}&type=user.role_assigned"));
    assert!(!page.contains("mine-user"));
    // One event: inside the limits shown, outside them, unknown or another tenant's: alike.
    let page = viewer.page(&format!("/ui/embed/events/mine-order?token={token}"));
    assert!(page.contains("mine-order") && page.contains("/ui/embed?token="));
    let outside = viewer.get(&format!("/ui/embed/events/theirs-order?token={token}"));
    let unknown = viewer.get(&format!("/ui/embed/events/no-such?token={token}"));
    let foreign = viewer.get(&format!("/ui/embed/events/globex-order?token={token}"));
    assert_eq!(
        (outside.status(), unknown.status(), foreign.status()),
        (
            404.try_into().unwrap(),
            404.try_into().unwrap(),
            404.try_into().unwrap()
        )
    );
    let (a, b, c) = (
        outside.text().unwrap(),
        unknown.text().unwrap(),
        foreign.text().unwrap(),
    );
    assert!(a == b && b == c);
    // An altered or missing token opens nothing.
    let last = if token.ends_with('A') { "B" } else { "A" };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    assert_eq!(
        viewer.get(&format!("/ui/embed?token={forged}")).status(),
        401
    );
    assert_eq!(viewer.get("/ui/embed").status(), 401);
    assert_eq!(
        viewer.get(&format!("/ui/search?token={token}")).status(),
        303,
        "no session"
    );
    // Each page shown is recorded.
    let viewed = s.all_events(&key, "&type=audit_log.viewed");
    assert!(viewed.len() >= 4, "{viewed:?}");
    assert!(viewed[0]["actor"]["id"]
        .as_str()
        .unwrap()
        .starts_with("vwt_"));
    assert!(viewed
        .iter()
        .any(|v| v["data"]["filters"].to_string().contains("u-7")));
    // What a reader types into a filter is recorded as exports record theirs: a card number
    // never lands in the log in the clear.
    viewer.page(&format!("{url}&correlation_id=4111+1111+1111+1111"));
    let viewed = s.all_events(&key, "&type=audit_log.viewed");
    let recorded = viewed[0]["data"]["filters"].to_string();
    assert!(
        !recorded.contains("4111 1111 1111 1111") && recorded.contains("redacted"),
        "{recorded}"
    );

    // A token without limits, of a tenant that named no viewer types, shows what clients sent,
    // not Sealbook's own records (these views, sign-ins, keys, operators' accesses).
    let r = s.post_json("/v1/viewer-tokens", &admin_key, &json!({}));
    let all: Value = r.json().unwrap();
    let page = viewer.page(all["url"].as_str().unwrap());
    assert!(page.contains("theirs-order") && page.contains("mine-user"));
    assert!(
        !page.contains("<code class=\"muted\">audit_log.viewed</code>"),
        "no Sealbook records by default"
    );
    let own = &s.all_events(&key, "&type=audit_log.viewed")[0];
    let own_id = own["id"].as_str().unwrap();
    assert_eq!(
        viewer
            .get(&format!(
                "/ui/embed/events/{own_id}?{}",
                all["url"].as_str().unwrap().split('?').nth(1).unwrap()
            ))
            .status(),
        404
    );

    // The tenant's settings: embedding origins, record links, viewer types; checked and audited.
    let mut alice = signed_in(&s, "acme", "alice@example.com", "tenant_admin");
    let settings = alice.page("/ui/settings");
    let token_csrf = csrf(&settings);
    let r = alice.post(
        "/ui/settings",
        &[
            ("_csrf", &token_csrf),
            ("record_links", ""),
            ("frame_ancestors", "https://app.example.com; script-src *"),
            ("viewer_types", ""),
        ],
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("frame_ancestors[0]"));
    assert!(s
        .all_events(&key, "&type=audit_log.settings_changed")
        .is_empty());
    let r = alice.post(
        "/ui/settings",
        &[
            ("_csrf", &token_csrf),
            (
                "record_links",
                "order = https://app.example.com/orders/{id}",
            ),
            (
                "frame_ancestors",
                "https://app.example.com\nhttps://*.example.org",
            ),
            ("viewer_types", "order.\nshipment."),
        ],
    );
    assert_eq!(r.status(), 303);
    let changed = s.all_events(&key, "&type=audit_log.settings_changed");
    assert_eq!(
        changed[0]["data"]["changed"],
        json!(["record_links", "frame_ancestors", "viewer_types"])
    );
    let r = viewer.get(&url);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors https://app.example.com https://*.example.org"),
        "{csp}"
    );
    let page = alice.page("/ui/events/mine-order");
    assert!(
        page.contains("href=\"https://app.example.com/orders/o-1001\""),
        "{page}"
    );
    let page = alice.page("/ui/events/hostile-order");
    assert!(
        page.contains("https://app.example.com/orders/%22%3E%3Cimg"),
        "the id is encoded in the link"
    );
    // Viewer types: a token without a type limit still sees only the tenant's viewer types, and
    // so does a person with the viewer role; an admin sees everything.
    let r = s.post_json("/v1/viewer-tokens", &admin_key, &json!({}));
    let open: Value = r.json().unwrap();
    let page = viewer.page(open["url"].as_str().unwrap());
    assert!(page.contains("theirs-order") && !page.contains("mine-user"));
    let mut carol = signed_in(&s, "acme", "carol@example.com", "viewer");
    assert!(!carol.page("/ui/search").contains("mine-user"));
    assert_eq!(carol.get("/ui/events/mine-user").status(), 404);
    assert!(alice.page("/ui/search").contains("mine-user"));
    assert_eq!(
        carol.get("/ui/settings").status(),
        403,
        "settings are for tenant admins"
    );
    // The settings page mints a link to try the view.
    let r = alice.post(
        "/ui/settings/viewer-link",
        &[
            ("_csrf", &token_csrf),
            ("actor", "u-8"),
            ("subject", ""),
            ("type_prefix", ""),
        ],
    );
    assert_eq!(r.status(), 200);
    let page = r.text().unwrap();
    let at = page.find("id=\"viewer-link\">").unwrap() + 17;
    let link = page[at..].split('<').next().unwrap().replace("&amp;", "&");
    let shown = viewer.page(&link);
    assert!(shown.contains("theirs-order") && !shown.contains("mine-order"));

    // A token opens a bounded number of pages in a burst: each one is a record in the log.
    let r = s.post_json(
        "/v1/viewer-tokens",
        &admin_key,
        &json!({"subject": "order:o-1001"}),
    );
    let burst: Value = r.json().unwrap();
    let burst_url = burst["url"].as_str().unwrap();
    let mut served = 0;
    let limited = loop {
        let r = viewer.get(burst_url);
        if r.status() != 200 || served == 400 {
            break r;
        }
        served += 1;
    };
    assert_eq!(limited.status(), 429, "after {served} pages");
    assert!(served >= 60, "a burst of 60 is served ({served})");
    assert!(limited.headers().contains_key("retry-after"));

    // The catalog page: every type, with its fields, for whoever may read the catalog.
    let page = carol.page("/ui/catalog?q=order.status");
    assert!(page.contains("order.status_changed") && !page.contains("user.login_failed"));
    assert!(alice
        .page("/ui/catalog")
        .contains("operator.access_started"));
}

#[test]
fn an_operator_reads_a_tenant_only_through_an_audited_time_bounded_access() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let other = s.tenant_with_key("globex");
    s.ingest(&key, &json!([event("acme-1")]));
    s.ingest(&other, &json!([event("globex-1")]));
    s.sign_checkpoint(&key);
    let r = s.post_json(
        "/v1/tenants/platform/users",
        &s.admin,
        &json!({"email": "olga@platform.example", "role": "support"}),
    );
    assert_eq!(r.status(), 422, "the platform's people are operators");
    let link = invite(&s, "platform", "olga@platform.example", "operator");
    let mut olga = Browser::new(&s);
    olga.set_password_and_sign_in(&link, "platform", "olga@platform.example");

    // Outside an access: no tenant's events.
    assert_eq!(olga.get("/ui/search").status(), 403);
    assert_eq!(olga.get("/ui/events/acme-1").status(), 403);
    let page = olga.page("/ui/operator");
    assert!(page.contains("acme") && page.contains("globex") && !page.contains("(platform)"));
    let token = csrf(&page);
    let r = olga.post(
        "/ui/operator/access",
        &[
            ("_csrf", &token),
            ("tenant", "acme"),
            ("reason", "short"),
            ("ticket", "SUP-1"),
            ("minutes", "60"),
        ],
    );
    assert_eq!(r.status(), 422, "a reason is required");
    let r = olga.post(
        "/ui/operator/access",
        &[
            ("_csrf", &token),
            ("tenant", "acme"),
            ("reason", "Customer asked about order 1001"),
            ("ticket", "SUP-1"),
            ("minutes", "600"),
        ],
    );
    assert_eq!(r.status(), 422, "at most four hours");
    assert!(s
        .all_events(&key, "&type=operator.access_started")
        .is_empty());
    let r = olga.post(
        "/ui/operator/access",
        &[
            ("_csrf", &token),
            ("tenant", "acme"),
            ("reason", "Customer asked about order 1001"),
            ("ticket", "SUP-1"),
            ("minutes", "60"),
        ],
    );
    assert_eq!(r.status(), 303);
    assert!(olga.access.is_some());

    // Inside: read only, this tenant only, under a banner; recorded in the tenant's own log.
    let page = olga.page("/ui/search");
    assert!(page.contains("acme-1") && !page.contains("globex-1"));
    assert!(page.contains("Platform operator access to") && page.contains("SUP-1"));
    assert!(olga
        .page("/ui/events/acme-1")
        .contains("badge ok\">Verified"));
    assert_eq!(olga.get("/ui/events/globex-1").status(), 404);
    for path in [
        "/ui/export?format=csv",
        "/ui/exports",
        "/ui/people",
        "/ui/keys",
        "/ui/settings",
        "/ui/sso",
    ] {
        assert_eq!(olga.get(path).status(), 403, "{path}");
    }
    assert!(
        !olga.page("/ui/events/acme-1").contains("Ada Lovelace"),
        "personal values masked"
    );
    let started = s.all_events(&key, "&type=operator.access_started");
    assert_eq!(started.len(), 1);
    let st = &started[0];
    assert_eq!(st["actor"]["id"].as_str().unwrap().get(..4), Some("usr_"));
    assert_eq!(st["reason"]["ticket"], "SUP-1");
    assert_eq!(st["reason"]["note"], "Customer asked about order 1001");
    assert_eq!(st["data"]["minutes"], 60);
    assert!(s
        .all_events(&other, "&type=operator.access_started")
        .is_empty());
    // The access cookie is only a pointer: another person's session cannot use it.
    let mut alice = signed_in(&s, "globex", "alice@example.com", "tenant_admin");
    alice.access = olga.access.clone();
    let page = alice.page("/ui/search");
    assert!(page.contains("globex-1") && !page.contains("acme-1"));

    // Ending it: recorded, and the pages close again, even with the old cookie.
    let kept = olga.access.clone();
    let r = olga.post("/ui/operator/access/end", &[("_csrf", &token)]);
    assert_eq!(r.status(), 303);
    assert!(olga.access.is_none());
    olga.access = kept;
    assert_eq!(olga.get("/ui/search").status(), 403);
    let ended = s.all_events(&key, "&type=operator.access_ended");
    assert_eq!(ended[0]["data"]["ended_by"], "operator");
    assert_eq!(ended[0]["data"]["access"], st["data"]["access"]);

    // Signing out during an access ends it too.
    let r = olga.post(
        "/ui/operator/access",
        &[
            ("_csrf", &token),
            ("tenant", "globex"),
            ("reason", "Checking a reported export problem"),
            ("ticket", "SUP-2"),
            ("minutes", "15"),
        ],
    );
    assert_eq!(r.status(), 303);
    assert!(olga.page("/ui/search").contains("globex-1"));
    let r = olga.post("/ui/logout", &[("_csrf", &token)]);
    assert_eq!(r.status(), 303);
    let ended = s.all_events(&other, "&type=operator.access_ended");
    assert_eq!(ended[0]["data"]["ended_by"], "sign_out");
}

#[test]
fn saved_searches_are_a_persons_own() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    s.ingest(&key, &json!([event("e-1")]));
    let mut ana = signed_in(&s, "acme", "ana@example.com", "auditor");
    let mut zoe = signed_in(&s, "acme", "zoe@example.com", "auditor");

    assert!(
        !ana.page("/ui/search").contains("Save these filters"),
        "nothing to save without filters"
    );
    let page = ana.page("/ui/search?actor=u-42&type=order.*&tz=Europe%2FParis");
    let query = field(&page, "query");
    let query = query.replace("&#38;", "&");
    assert_eq!(query, "actor=u-42&type=order.%2A&tz=Europe%2FParis");
    let token = csrf(&page);
    let r = ana.post(
        "/ui/searches",
        &[
            ("_csrf", &token),
            ("name", "Orders by u-42"),
            ("query", &query),
        ],
    );
    assert_eq!(r.status(), 303);
    let r = ana.post(
        "/ui/searches",
        &[("_csrf", &token), ("name", "Bad"), ("query", "bogus=1")],
    );
    assert_eq!(r.status(), 400, "only a query the search page accepts");
    let page = ana.page("/ui/search");
    assert!(page.contains(">Orders by u-42</a>"));
    assert!(
        page.contains("href=\"/ui/search?actor=u-42&#38;type=order.%2A&#38;tz=Europe%2FParis\""),
        "{page}"
    );
    assert!(
        !zoe.page("/ui/search").contains("Orders by u-42"),
        "another person's searches are theirs"
    );
    let at = page.find("/ui/searches/srch_").unwrap() + 13;
    let id = page[at..].split('/').next().unwrap().to_owned();
    let zoe_csrf = csrf(&zoe.page("/ui/search"));
    assert_eq!(
        zoe.post(
            &format!("/ui/searches/{id}/delete"),
            &[("_csrf", &zoe_csrf)]
        )
        .status(),
        404
    );
    assert_eq!(
        ana.post(&format!("/ui/searches/{id}/delete"), &[("_csrf", &token)])
            .status(),
        303
    );
    assert!(!ana.page("/ui/search").contains("Orders by u-42"));
}

/// A person paging through the log in the UI past the daily threshold is recorded as a key doing
/// it through the API is: `audit_log.bulk_read` naming the person.
#[test]
fn bulk_reading_in_the_ui_is_audited_like_the_api() {
    let dir = tempdir();
    let config = dir.path().join("sealbook.toml");
    std::fs::write(&config, "[reads]\nbulk_read_audit_events = 5\n").unwrap();
    let s = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let key = s.tenant_with_key("acme");
    let batch: Vec<Value> = (0..12).map(|i| event(&format!("p-{i}"))).collect();
    s.ingest(&key, &Value::Array(batch));
    let mut ana = signed_in(&s, "acme", "ana@example.com", "auditor");
    assert!(s.all_events(&key, "&type=audit_log.bulk_read").is_empty());
    ana.page("/ui/search?type=order.status_changed");
    let rec = s.all_events(&key, "&type=audit_log.bulk_read");
    assert_eq!(rec.len(), 1, "12 events shown, over the threshold of 5");
    assert_eq!(rec[0]["actor"]["type"], "user");
    assert!(rec[0]["actor"]["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(rec[0]["data"]["events_today"], 12);
    assert_eq!(
        rec[0]["data"]["query"],
        json!([{"name": "type", "value": "order.status_changed"}])
    );
}

#[test]
fn my_exports_show_how_far_each_export_came_to_its_owner_only() {
    let dir = tempdir();
    let s = Server::start(dir.path());
    let key = s.tenant_with_key("acme");
    let other = s.tenant_with_key("globex");
    for b in 0..3 {
        let n = if b == 2 { 500 } else { 1000 };
        let batch: Vec<Value> = (0..n).map(|i| event(&format!("e-{b}-{i}"))).collect();
        s.ingest(&key, &Value::Array(batch));
    }
    s.ingest(&other, &json!([event("g-1")]));
    let mut ann = signed_in(&s, "acme", "ann@acme.example", "compliance_officer");
    assert!(ann.page("/ui/exports").contains("No recent exports"));

    let r = ann.get("/ui/export?format=csv&subject=order%3Ao-1001");
    assert_eq!(r.status(), 200);
    // The number of events is known before the first byte, for a client to show progress.
    assert_eq!(r.headers()["sealbook-export-events"], "2500");
    let rows = r.text().unwrap().lines().count();
    assert_eq!(rows, 2501);
    let page = ann.page("/ui/exports");
    assert!(page.contains("2500 of 2500 events"), "{page}");
    assert!(page.contains("badge ok\">Done"), "{page}");
    assert!(
        page.contains("subject=order:o-1001"),
        "the filters are shown: {page}"
    );
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "nothing runs: no refreshing"
    );
    // Its record opens: the audit_log.exported event with the count.
    let at = page.find("/ui/events/").unwrap();
    let record = page[at..].split('"').next().unwrap().to_owned();
    let event_page = ann.page(&record);
    assert!(event_page.contains("audit_log.exported"), "{event_page}");

    // The API says the count too; another person of the tenant and another tenant see nothing
    // of Ann's exports.
    let (_, export_key) = s.create_key("acme", &["events:export"]);
    let r = s.get(
        "/v1/exports/events?format=csv&type=order.status_changed",
        &export_key,
    );
    assert_eq!(r.headers()["sealbook-export-events"], "2500");
    let _ = r.text();
    let mut bob = signed_in(&s, "acme", "bob@acme.example", "tenant_admin");
    assert!(bob.page("/ui/exports").contains("No recent exports"));
    let mut gus = signed_in(&s, "globex", "gus@globex.example", "tenant_admin");
    assert!(gus.page("/ui/exports").contains("No recent exports"));
    // An API key's export is nobody's in the UI.
    assert_eq!(
        ann.page("/ui/exports").matches("badge ok\">Done").count(),
        1
    );
}

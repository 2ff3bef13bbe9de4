//! End to end: single sign-on against a real OpenID provider (`oidc-provider`, started by the
//! test: `crates/cli/tests/browser/idp.mjs`). A tenant admin sets it up (the provider is checked,
//! the client secret never leaves the server in any form); people sign in through the provider's
//! own login and consent pages; roles follow the groups claim (read from UserInfo, as this
//! provider sends it there); unknown people are created once; an unverified address, a person
//! without a mapped group, a forged or replayed answer, another tenant's flow and a provider
//! error are refused and recorded; passwords can be reserved for tenant admins.

use crate::common::{tempdir, Server};
use crate::ui::{all_bytes, csrf, signed_in, Browser, PASSWORD};
use reqwest::blocking::Client;
use reqwest::redirect::Policy;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The OpenID provider, stopped when dropped.
pub(crate) struct Idp {
    child: Child,
    pub(crate) issuer: String,
}

impl Idp {
    pub(crate) fn start(redirect_uri: &str, client_id: &str, secret: &str) -> Idp {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/idp.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("CLIENT_ID", client_id)
            .env("CLIENT_SECRET", secret)
            .env("REDIRECT_URI", redirect_uri)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs (scripts/browser.sh --install installs it and oidc-provider)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let issuer = line
            .trim()
            .strip_prefix("idp: ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_owned();
        Idp { child, issuer }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider's side of a browser: its own cookies, redirects followed by hand.
struct AtIdp {
    http: Client,
    cookies: BTreeMap<String, String>,
}

/// `(action, hidden fields)` of the first form of a page.
fn form_of(page: &str) -> (String, Vec<(String, String)>) {
    let at = page.find("<form").expect("a form");
    let form = &page[at..page[at..].find("</form>").unwrap() + at];
    let attr = |tag: &str, name: &str| {
        let pat = format!("{name}=\"");
        tag.find(&pat)
            .map(|i| tag[i + pat.len()..].split('"').next().unwrap().to_owned())
    };
    let action = attr(form, "action").unwrap();
    let hidden = form
        .split("<input")
        .skip(1)
        .filter(|i| i.contains("type=\"hidden\""))
        .map(|i| {
            (
                attr(i, "name").unwrap(),
                attr(i, "value").unwrap_or_default(),
            )
        })
        .collect();
    (action, hidden)
}

impl AtIdp {
    fn new() -> AtIdp {
        AtIdp {
            http: Client::builder().redirect(Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn send(&mut self, rq: reqwest::blocking::RequestBuilder) -> reqwest::blocking::Response {
        let jar = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let r = rq.header("cookie", jar).send().unwrap();
        for v in r.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
        r
    }

    /// Signs in at the provider as `login` from its authorization URL and consents; the
    /// provider's redirect back to Sealbook (a path and query under `sealbook`).
    fn sign_in(&mut self, auth_url: &str, login: &str, sealbook: &str) -> String {
        let mut url = auth_url.to_owned();
        for _ in 0..12 {
            let r = self.send(self.http.get(&url));
            let base = reqwest::Url::parse(&url).unwrap();
            if r.status().is_redirection() {
                let to = r.headers()["location"].to_str().unwrap();
                let to = base.join(to).unwrap().to_string();
                if let Some(back) = to.strip_prefix(sealbook) {
                    return back.to_owned();
                }
                url = to;
                continue;
            }
            assert_eq!(r.status(), 200, "{url}");
            let page = r.text().unwrap();
            let (action, hidden) = form_of(&page);
            let mut fields: Vec<(String, String)> = hidden;
            if page.contains("name=\"login\"") {
                fields.push(("login".into(), login.into()));
                fields.push(("password".into(), "any".into()));
            }
            let r = self.send(self.http.post(base.join(&action).unwrap()).form(&fields));
            assert!(r.status().is_redirection(), "{}", r.status());
            let to = r.headers()["location"].to_str().unwrap();
            url = base.join(to).unwrap().to_string();
            if let Some(back) = url.strip_prefix(sealbook) {
                return back.to_owned();
            }
        }
        panic!("the provider never sent the browser back");
    }
}

/// Starts single sign-on for `tenant` in `b`: the provider's authorization URL.
fn start(b: &mut Browser<'_>, tenant: &str) -> String {
    let r = b.post(
        "/ui/login/sso",
        &[("tenant", tenant), ("next", "/ui/account")],
    );
    assert_eq!(r.status(), 303);
    assert!(b.sso.is_some(), "the flow travels in a cookie");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax")
    );
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// A whole sign-on of `login` in a new browser: the callback's answer and the browser.
fn sso_sign_in<'a>(
    s: &'a Server,
    idp: &Idp,
    tenant: &str,
    login: &str,
) -> (u16, String, Browser<'a>) {
    let mut b = Browser::new(s);
    let auth = start(&mut b, tenant);
    assert!(auth.starts_with(&idp.issuer), "{auth}");
    for p in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
        "scope=openid+email+profile+groups",
    ] {
        assert!(auth.contains(p), "{p} in {auth}");
    }
    let back = AtIdp::new().sign_in(&auth, login, &s.url);
    let r = b.get(&back);
    let status = r.status().as_u16();
    let text = if status == 303 {
        r.headers()["location"].to_str().unwrap().to_owned()
    } else {
        r.text().unwrap()
    };
    (status, text, b)
}

/// The role of the person of acme with `email`, as the API lists people.
fn role_of(s: &Server, email: &str) -> String {
    let r = s.get("/v1/tenants/acme/users", &s.admin);
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    let list = v["users"]
        .as_array()
        .or(v.as_array())
        .expect("a list of people")
        .clone();
    list.iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {v}"))["role"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn save_sso(admin: &mut Browser<'_>, fields: &[(&str, &str)]) -> (u16, String) {
    let page = admin.page("/ui/sso");
    let token = csrf(&page);
    let mut form = vec![("_csrf", token.as_str())];
    form.extend_from_slice(fields);
    let r = admin.post("/ui/sso", &form);
    let status = r.status().as_u16();
    (status, r.text().unwrap())
}

#[test]
fn people_sign_in_through_the_tenants_openid_provider_with_roles_from_its_groups() {
    let dir = tempdir();
    let config = dir.path().join("sealbook.toml");
    std::fs::write(&config, "[ui]\nsso_http_loopback = true\n").unwrap();
    let s = Server::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    s.create_tenant("acme");
    s.create_tenant("globex");
    let (_, key) = s.create_key("acme", &["events:read"]);
    let secret = "idp-client-secret-9f3a7c1e5b";
    let idp = Idp::start(
        &format!("{}/ui/login/sso/callback", s.url),
        "sealbook-acme",
        secret,
    );
    let mut admin = signed_in(&s, "acme", "admin@acme.example", "tenant_admin");

    // The page names the redirect URI to register.
    let page = admin.page("/ui/sso");
    assert!(
        page.contains(&format!("{}/ui/login/sso/callback", s.url)),
        "{page}"
    );

    // A provider that does not answer, or is not https, is not saved.
    let (status, page) = save_sso(
        &mut admin,
        &[
            ("issuer", "http://127.0.0.1:9"),
            ("client_id", "x"),
            ("role_claim", "groups"),
        ],
    );
    assert_eq!(status, 422);
    assert!(
        page.contains("Not saved") && page.contains("discovery document"),
        "{page}"
    );
    let (status, page) = save_sso(
        &mut admin,
        &[
            ("issuer", "http://10.1.2.3"),
            ("client_id", "x"),
            ("role_claim", "groups"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("https://"), "{page}");
    let (status, page) = save_sso(
        &mut admin,
        &[
            ("issuer", &idp.issuer),
            ("client_id", "x"),
            ("role_claim", "groups"),
            ("role_map", "admins = operator"),
        ],
    );
    assert_eq!(status, 422, "no claim may make anyone a platform operator");
    assert!(page.contains("sso.role_map[0]"), "{page}");

    let mapping = "sealbook-admins = tenant_admin\nauditors = auditor";
    let (status, _) = save_sso(
        &mut admin,
        &[
            ("issuer", &idp.issuer),
            ("client_id", "sealbook-acme"),
            ("client_secret", secret),
            ("extra_scopes", "groups"),
            ("role_claim", "groups"),
            ("role_map", mapping),
            ("default_role", ""),
            ("create_people", "on"),
            ("passwords", "on"),
        ],
    );
    assert_eq!(status, 303);
    let page = admin.page("/ui/sso");
    assert!(page.contains("A secret is set") && !page.contains(secret));
    let changed = s.all_events(&key, "&type=audit_log.settings_changed");
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["data"]["changed"][0], "sso");
    assert_eq!(
        changed[0]["data"]["settings"]["sso"]["client_secret_sealed"],
        "[set]"
    );
    assert_eq!(
        changed[0]["data"]["settings"]["sso"]["issuer"],
        idp.issuer.as_str()
    );

    // An admin of the provider's admin group: created at first sign-on, as tenant admin.
    let (status, to, mut ada) = sso_sign_in(&s, &idp, "acme", "admin.ada@acme.example");
    assert_eq!(status, 303, "{to}");
    assert_eq!(to, "/ui/account");
    assert!(
        ada.cookie.is_some() && ada.sso.is_none(),
        "a session, and the flow spent"
    );
    let account = ada.page("/ui/account");
    assert!(
        account.contains("Single sign-on</td>"),
        "the session says how it was opened"
    );
    let people = admin.page("/ui/people");
    assert!(people.contains("admin.ada@acme.example"));
    let provisioned = s.all_events(&key, "&type=user.provisioned");
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0]["data"]["role"], "tenant_admin");
    assert_eq!(provisioned[0]["data"]["issuer"], idp.issuer.as_str());
    let logins = s.all_events(&key, "&type=user.login_succeeded");
    let last = logins
        .iter()
        .find(|e| e["data"]["method"] == "sso")
        .expect("an sso sign-in");
    assert_eq!(last["data"]["sub"], "admin.ada@acme.example");
    assert_eq!(last["data"]["issuer"], idp.issuer.as_str());
    // She is a tenant admin now: the admin pages open.
    assert_eq!(ada.get("/ui/people").status(), 200);

    // An auditor by group; signing in again creates nobody new.
    let (status, _, mut ann) = sso_sign_in(&s, &idp, "acme", "audit.ann@acme.example");
    assert_eq!(status, 303);
    assert_eq!(
        ann.get("/ui/people").status(),
        403,
        "an auditor manages nobody"
    );
    assert_eq!(ann.get("/ui/search").status(), 200);
    let (status, _, _) = sso_sign_in(&s, &idp, "acme", "audit.ann@acme.example");
    assert_eq!(status, 303);
    assert_eq!(s.all_events(&key, "&type=user.provisioned").len(), 2);

    // Roles follow the provider: the mapping changes, and at her next sign-in so does her role.
    let (status, _) = save_sso(
        &mut admin,
        &[
            ("issuer", &idp.issuer),
            ("client_id", "sealbook-acme"),
            ("extra_scopes", "groups"),
            ("role_claim", "groups"),
            (
                "role_map",
                "sealbook-admins = tenant_admin\nauditors = compliance_officer",
            ),
            ("create_people", "on"),
            ("passwords", "on"),
        ],
    );
    assert_eq!(
        status, 303,
        "the secret is kept when the field is left empty"
    );
    let (status, _, _) = sso_sign_in(&s, &idp, "acme", "audit.ann@acme.example");
    assert_eq!(status, 303);
    let assigned = s.all_events(&key, "&type=user.role_assigned");
    let by_sso: Vec<_> = assigned
        .iter()
        .filter(|e| e["actor"]["id"] == "sso")
        .collect();
    assert_eq!(by_sso.len(), 1);
    assert_eq!(by_sso[0]["data"]["role"], "compliance_officer");
    assert_eq!(role_of(&s, "audit.ann@acme.example"), "compliance_officer");
    assert_eq!(role_of(&s, "admin.ada@acme.example"), "tenant_admin");

    // No mapped group and no default role; an unverified address: refused and recorded.
    let (status, page, b) = sso_sign_in(&s, &idp, "acme", "staff.sam@acme.example");
    assert_eq!(status, 401);
    assert!(page.contains("no role"), "{page}");
    assert!(b.cookie.is_none());
    let (status, page, _) = sso_sign_in(&s, &idp, "acme", "unverified.uma@acme.example");
    assert_eq!(status, 401);
    assert!(page.contains("is verified"), "{page}");
    // A provider that does not say is not taken at its word either.
    let (status, page, _) = sso_sign_in(&s, &idp, "acme", "silent.sid@acme.example");
    assert_eq!(status, 401);
    assert!(page.contains("is verified"), "{page}");
    let failed = s.all_events(&key, "&type=user.login_failed");
    let mut reasons: Vec<&str> = failed
        .iter()
        .filter(|e| e["data"]["method"] == "sso")
        .map(|e| e["data"]["failure_reason"].as_str().unwrap())
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["email_unverified", "email_unverified", "no_role"]);
    assert_eq!(
        s.all_events(&key, "&type=user.provisioned").len(),
        2,
        "nobody refused was created"
    );

    // A forged answer (wrong state), one without the flow's cookie, and a replayed one.
    let mut b = Browser::new(&s);
    let auth = start(&mut b, "acme");
    let back = AtIdp::new().sign_in(&auth, "admin.ada@acme.example", &s.url);
    let flow = b.sso.clone().unwrap();
    let forged = back.replace("state=", "state=x");
    let r = b.get(&forged);
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login?notice=sso_again");
    assert!(b.cookie.is_none() && b.sso.is_none());
    let mut other = Browser::new(&s);
    let r = other.get(&back);
    assert_eq!(
        r.headers()["location"],
        "/ui/login?notice=sso_again",
        "another browser's answer"
    );
    // Another tenant's name on the sealed flow does not open it.
    let mut moved = Browser::new(&s);
    moved.sso = Some(flow.replacen("acme.", "globex.", 1));
    let r = moved.get(&back);
    assert_eq!(r.headers()["location"], "/ui/login?notice=sso_again");
    // The real answer works once; replayed (the same cookie kept), the provider refuses the code.
    b.sso = Some(flow.clone());
    let r = b.get(&back);
    assert_eq!(r.status(), 303);
    assert!(b.cookie.is_some());
    let mut replay = Browser::new(&s);
    replay.sso = Some(flow);
    let r = replay.get(&back);
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("invalid_grant"));
    assert!(replay.cookie.is_none());

    // The provider saying no (the person cancelled) is shown and recorded.
    let mut b = Browser::new(&s);
    let auth = start(&mut b, "acme");
    let st = auth
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let r = b.get(&format!("/ui/login/sso/callback?error=access_denied&error_description=%3Cb%3Ecancelled%3C%2Fb%3E&state={st}&iss={}", idp.issuer));
    assert_eq!(r.status(), 401);
    let page = r.text().unwrap();
    assert!(
        page.contains("access_denied") && page.contains("cancelled"),
        "{page}"
    );
    assert!(
        !page.contains("<b>"),
        "what the provider says is escaped: {page}"
    );

    // Another site cannot start a sign-on in a visitor's browser (to swap in a session of its
    // choosing).
    let r = Client::new()
        .post(format!("{}/ui/login/sso", s.url))
        .header("sec-fetch-site", "cross-site")
        .form(&[("tenant", "acme")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("set-cookie").is_none());

    // A kept secret never goes to another issuer: changing it asks for the secret again.
    let (status, page) = save_sso(
        &mut admin,
        &[
            ("issuer", "https://login.example.com"),
            ("client_id", "sealbook-acme"),
            ("role_claim", "groups"),
            ("passwords", "on"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("enter the client secret again"), "{page}");

    // An unknown organisation and one without single sign-on answer alike.
    let mut b = Browser::new(&s);
    let unknown = b.post("/ui/login/sso", &[("tenant", "nosuch")]);
    let without = b.post("/ui/login/sso", &[("tenant", "globex")]);
    assert_eq!(unknown.status(), 404);
    assert_eq!(without.status(), 404);
    let platform = b.post("/ui/login/sso", &[("tenant", "platform")]);
    assert_eq!(
        platform.status(),
        404,
        "operators never sign in through a provider"
    );
    let _ = platform.text();
    assert_eq!(
        unknown.text().unwrap().replace("nosuch", "globex"),
        without.text().unwrap()
    );

    // Passwords for tenant admins only: a support person with a password is sent to sign-on.
    let mut sue = signed_in(&s, "acme", "sue@acme.example", "support");
    let (status, _) = save_sso(
        &mut admin,
        &[
            ("issuer", &idp.issuer),
            ("client_id", "sealbook-acme"),
            ("extra_scopes", "groups"),
            ("role_claim", "groups"),
            ("role_map", mapping),
            ("create_people", "on"),
        ],
    );
    assert_eq!(status, 303);
    let r = sue.sign_in("acme", "sue@acme.example", PASSWORD, 403);
    assert!(r.text().unwrap().contains("single sign-on"));
    let mut again = Browser::new(&s);
    again.sign_in("acme", "admin@acme.example", PASSWORD, 303);

    // Turned off: sign-on answers as for a tenant without it, passwords work again.
    let page = admin.page("/ui/sso");
    let r = admin.post("/ui/sso", &[("_csrf", &csrf(&page)), ("remove", "on")]);
    assert_eq!(r.status(), 303);
    assert_eq!(
        Browser::new(&s)
            .post("/ui/login/sso", &[("tenant", "acme")])
            .status(),
        404
    );
    sue.sign_in("acme", "sue@acme.example", PASSWORD, 303);

    // The client secret is nowhere on disk in the clear, nor in the server's log.
    let bytes = all_bytes(dir.path());
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

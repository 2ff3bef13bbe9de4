//! The storage conformance suite: one set of behaviours every backend must show, written once.
//!
//! A backend's test file calls [`store_conformance!`](crate::store_conformance) with an expression
//! that builds a [`Harness`]; the macro expands into one `#[tokio::test]` per behaviour, so a failure
//! names the backend and the behaviour.

use sealbook_domain::{
    parse_batch, shape, BodyFormat, ContentKey, Entropy, EventFilter, Limits, Role, Scope,
    SearchKey, ShapedEvent, TenantId, TenantKeys,
};
use sealbook_store::{
    rebuild_hashes, AppendOutcome, AppendRequest, Corruption, Credentials, EffectRefusal,
    HashRebuild, KeyEffect, KeyRecord, NewKey, PasswordToken, PeopleEffect, Place, RebuildReport,
    RehashSource, Rehashed, Session, Store, StoreError, User,
};
use std::sync::Arc;

/// Opens a backend, fresh for each test; opening again reaches the same data (to test durability).
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// Opens (or re-opens) the store under test.
    async fn open(&self) -> Arc<dyn Store>;
    /// Does `damage` to the stored data of `tenant` behind the store's back, through a raw
    /// connection of the backend, as a bad disk or an intruder would.
    async fn damage(&self, tenant: &TenantId, damage: Damage);
    /// The rebuild of postings and content hashes through the backend's privileged connection,
    /// for a backend whose store offers none ([`Store::hash_rebuild`] is `None`: PostgreSQL's
    /// application role, where the owner rebuilds).
    async fn owner_rebuild(&self) -> Option<Box<dyn HashRebuild>> {
        None
    }
}

/// Damage to a tenant's stored tree, done by [`Harness::damage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The open tile of tile level 0 (number `size / 256`) is cut to its first 31 bytes.
    TruncateOpenTile,
    /// The tree head says one leaf more than the log holds.
    HeadSizeAhead,
    /// The tree head says one leaf less than the log holds (the next append would collide with a
    /// stored event).
    HeadSizeBehind,
    /// The tree head's root is cut to its first 31 bytes.
    TruncateRoot,
}

/// Expands into one test per conformance behaviour for a backend.
#[macro_export]
macro_rules! store_conformance {
    ($harness:expr) => {
        $crate::store_conformance!(@tests $harness;
            sequencing_is_gap_free,
            idempotency,
            conflict_isolated_within_group,
            filters_and_pagination,
            counts_agree_with_paging,
            recorded_by_filter,
            tenant_isolation,
            durability_across_reopen,
            key_effects_commit_with_events,
            people_create_and_read_per_tenant,
            people_refusals_write_nothing,
            people_set_password_through_token,
            people_sessions_and_disable,
            people_totp_settings_and_access,
            people_saved_searches,
            concurrent_appends,
            tree_matches_events,
            entries_in_log_order,
            checkpoints_only_grow,
            signing_keys_and_settings,
            damage_is_reported_as_corrupt,
            hash_rebuild_rekeys_and_survives_interruption
        );
    };
    (@tests $harness:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let harness = $harness;
                $crate::conformance::$name(&harness).await;
            }
        )*
    };
}

struct Fixed(u64);
impl Entropy for Fixed {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

fn tenant(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

/// Fixed test keys of `t` (the API derives real ones from the deployment's secret): each tenant's
/// differ, as in production.
pub fn keys(t: &TenantId) -> TenantKeys {
    let bytes = |purpose: &str| {
        let mut k = [0u8; 32];
        for (i, b) in format!("{purpose}:{t}").bytes().enumerate() {
            k[i % 32] ^= b;
        }
        k
    };
    TenantKeys {
        search: SearchKey::new(&bytes("search")),
        content: ContentKey::new(&bytes("content")),
    }
}

/// A filter of `t` from query pairs, keyed with `t`'s test key.
pub fn filter(t: &TenantId, pairs: &[(&str, &str)]) -> EventFilter {
    let v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    EventFilter::from_query(&v, &keys(t).search).expect("fixture filters are valid")
}

/// Builds shaped events from JSON, as ingest would.
pub fn events(t: &TenantId, json: serde_json::Value) -> Vec<ShapedEvent> {
    events_marked(t, json, &[])
}

/// Like [`events`], with the events at `sealbooks` (positions) marked as Sealbook's own records
/// (`"recorded_by": "sealbook"`, which only Sealbook adds, after validation).
pub fn events_marked(
    t: &TenantId,
    json: serde_json::Value,
    sealbooks: &[usize],
) -> Vec<ShapedEvent> {
    shaped_with(t, json, sealbooks, &keys(t))
}

/// Like [`events_marked`], shaped under `k` instead of `t`'s test keys.
fn shaped_with(
    t: &TenantId,
    json: serde_json::Value,
    sealbooks: &[usize],
    k: &TenantKeys,
) -> Vec<ShapedEvent> {
    let mut e = Fixed(7);
    parse_batch(
        json.to_string().as_bytes(),
        BodyFormat::Json,
        t,
        &Limits::default(),
    )
    .expect("fixture events are valid")
    .into_iter()
    .enumerate()
    .map(|(i, mut v)| {
        if sealbooks.contains(&i) {
            v.body
                .insert("recorded_by".into(), sealbook_domain::SEALBOOK.into());
        }
        shape(v, t, time::OffsetDateTime::now_utc(), &mut e, k)
    })
    .collect()
}

fn ev(id: &str, ty: &str, actor: &str, at: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "type": ty, "occurred_at": at,
        "actor": {"type": "user", "id": actor, "name": format!("Name {actor}")},
        "subject": {"type": "order", "id": format!("o-{id}")},
        "refs": {"order_number": format!("PO-{id}")},
        "context": {"correlation_id": format!("corr-{}", &id[..1])},
    })
}

fn req(t: &TenantId, events: Vec<ShapedEvent>) -> AppendRequest {
    AppendRequest {
        tenant: t.clone(),
        events,
        effect: None,
    }
}

/// Appends JSON events for `t` as one request, as ingest would.
async fn send(store: &dyn Store, t: &TenantId, json: serde_json::Value) -> AppendOutcome {
    one(store, req(t, events(t, json))).await
}

async fn one(store: &dyn Store, r: AppendRequest) -> AppendOutcome {
    store.append(vec![r]).await.expect("append").remove(0)
}

fn indexes(o: &AppendOutcome) -> Vec<u64> {
    match o {
        AppendOutcome::Committed(r) => r.iter().map(|r| r.index).collect(),
        other => panic!("expected Committed, got {other:?}"),
    }
}

async fn setup(h: &dyn Harness, tenants: &[&str]) -> Arc<dyn Store> {
    let s = h.open().await;
    for t in tenants {
        s.create_tenant(&tenant(t), t).await.unwrap();
    }
    s
}

/// Indexes are 0, 1, 2, … per tenant, across requests in one group and across groups.
pub async fn sequencing_is_gap_free(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let out = s
        .append(vec![
            req(
                &a,
                events(
                    &a,
                    serde_json::json!([
                        ev("1", "x.y", "u", "2026-01-01T00:00:00Z"),
                        ev("2", "x.y", "u", "2026-01-01T00:00:01Z")
                    ]),
                ),
            ),
            req(
                &b,
                events(
                    &b,
                    serde_json::json!([ev("1", "x.y", "u", "2026-01-01T00:00:00Z")]),
                ),
            ),
            req(
                &a,
                events(
                    &a,
                    serde_json::json!([ev("3", "x.y", "u", "2026-01-01T00:00:02Z")]),
                ),
            ),
        ])
        .await
        .unwrap();
    assert_eq!(indexes(&out[0]), vec![0, 1]);
    assert_eq!(indexes(&out[1]), vec![0]);
    assert_eq!(indexes(&out[2]), vec![2]);
    let next = send(
        &*s,
        &a,
        serde_json::json!([ev("4", "x.y", "u", "2026-01-01T00:00:03Z")]),
    )
    .await;
    assert_eq!(indexes(&next), vec![3]);
    assert_eq!(s.log_size(&a).await.unwrap(), 4);
    assert_eq!(s.log_size(&b).await.unwrap(), 1);
}

/// A faithful retry returns the first receipt and stores nothing; a changed retry is a conflict.
pub async fn idempotency(h: &dyn Harness) {
    let s = setup(h, &["a"]).await;
    let a = tenant("a");
    let first = send(
        &*s,
        &a,
        serde_json::json!([ev("1", "x.y", "u", "2026-01-01T00:00:00Z")]),
    )
    .await;
    let AppendOutcome::Committed(r1) = first else {
        panic!()
    };
    assert!(!r1[0].replayed);
    let again = send(
        &*s,
        &a,
        serde_json::json!([
            ev("1", "x.y", "u", "2026-01-01T00:00:00Z"),
            ev("2", "x.y", "u", "2026-01-01T00:00:00Z")
        ]),
    )
    .await;
    let AppendOutcome::Committed(r2) = again else {
        panic!()
    };
    assert_eq!(
        (r2[0].index, r2[0].leaf_hash, r2[0].replayed),
        (r1[0].index, r1[0].leaf_hash, true)
    );
    assert_eq!((r2[1].index, r2[1].replayed), (1, false));
    let changed = send(
        &*s,
        &a,
        serde_json::json!([
            ev("3", "x.y", "u", "2026-01-01T00:00:00Z"),
            ev("1", "x.z", "u", "2026-01-01T00:00:00Z")
        ]),
    )
    .await;
    assert_eq!(
        changed,
        AppendOutcome::Conflict {
            position: 1,
            id: "1".into()
        }
    );
    assert_eq!(
        s.log_size(&a).await.unwrap(),
        2,
        "a conflicting request writes nothing"
    );
    assert!(s.event(&a, "3").await.unwrap().is_none());
}

/// A rejected request in a group does not disturb the others, nor leave a gap.
pub async fn conflict_isolated_within_group(h: &dyn Harness) {
    let s = setup(h, &["a"]).await;
    let a = tenant("a");
    send(
        &*s,
        &a,
        serde_json::json!([ev("1", "x.y", "u", "2026-01-01T00:00:00Z")]),
    )
    .await;
    let out = s
        .append(vec![
            req(
                &a,
                events(
                    &a,
                    serde_json::json!([ev("1", "x.changed", "u", "2026-01-01T00:00:00Z")]),
                ),
            ),
            req(
                &a,
                events(
                    &a,
                    serde_json::json!([ev("2", "x.y", "u", "2026-01-01T00:00:00Z")]),
                ),
            ),
            req(
                &a,
                events(
                    &a,
                    serde_json::json!([ev("2", "x.y", "u", "2026-01-01T00:00:00Z")]),
                ),
            ),
            req(
                &tenant("nobody"),
                events(
                    &tenant("nobody"),
                    serde_json::json!([ev("1", "x.y", "u", "2026-01-01T00:00:00Z")]),
                ),
            ),
        ])
        .await
        .unwrap();
    assert!(matches!(out[0], AppendOutcome::Conflict { .. }));
    assert_eq!(indexes(&out[1]), vec![1]);
    let AppendOutcome::Committed(r) = &out[2] else {
        panic!("{:?}", out[2])
    };
    assert!(
        r[0].replayed && r[0].index == 1,
        "same id later in the same group replays"
    );
    assert_eq!(out[3], AppendOutcome::UnknownTenant);
}

/// Every filter, and cursor pages that neither skip nor repeat.
pub async fn filters_and_pagination(h: &dyn Harness) {
    let s = setup(h, &["a"]).await;
    let a = tenant("a");
    let mut batch = Vec::new();
    for i in 0..30 {
        let mut e = ev(
            &format!("{}{i}", if i % 2 == 0 { "e" } else { "f" }),
            if i % 3 == 0 {
                "order.created"
            } else {
                "user.login_failed"
            },
            &format!("u{}", i % 4),
            &format!("2026-01-01T00:00:{i:02}Z"),
        );
        if i % 5 == 0 {
            e["outcome"] = serde_json::json!("denied");
            e["reason"] = serde_json::json!({"note": "Emergency override by night shift"});
        }
        batch.push(e);
    }
    send(&*s, &a, serde_json::Value::Array(batch)).await;
    let q = |pairs: &[(&str, &str)]| filter(&a, pairs);
    let idx =
        |r: Vec<sealbook_store::StoredEvent>| r.into_iter().map(|e| e.index).collect::<Vec<_>>();
    assert_eq!(
        idx(s.query(&a, &q(&[("actor", "u1")])).await.unwrap()),
        vec![29, 25, 21, 17, 13, 9, 5, 1]
    );
    assert_eq!(
        idx(s
            .query(&a, &q(&[("actor_type", "user"), ("limit", "2")]))
            .await
            .unwrap()),
        vec![29, 28]
    );
    assert_eq!(
        idx(s.query(&a, &q(&[("type", "order.*")])).await.unwrap()),
        vec![27, 24, 21, 18, 15, 12, 9, 6, 3, 0]
    );
    assert_eq!(
        idx(s
            .query(&a, &q(&[("type", "order.created"), ("actor", "u0")]))
            .await
            .unwrap()),
        vec![24, 12, 0]
    );
    assert_eq!(
        idx(s.query(&a, &q(&[("outcome", "denied")])).await.unwrap()),
        vec![25, 20, 15, 10, 5, 0]
    );
    assert_eq!(
        idx(s
            .query(
                &a,
                &q(&[
                    ("since", "2026-01-01T00:00:10Z"),
                    ("until", "2026-01-01T00:00:13Z")
                ])
            )
            .await
            .unwrap()),
        vec![12, 11, 10]
    );
    assert_eq!(
        idx(s.query(&a, &q(&[("subject", "order:o-e4")])).await.unwrap()),
        vec![4]
    );
    assert_eq!(
        idx(s
            .query(&a, &q(&[("subject", "o-f7"), ("subject_type", "order")]))
            .await
            .unwrap()),
        vec![7]
    );
    assert_eq!(
        idx(s
            .query(&a, &q(&[("subject_type", "invoice")]))
            .await
            .unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(
        idx(s
            .query(&a, &q(&[("ref", "order_number:PO-f9")]))
            .await
            .unwrap()),
        vec![9]
    );
    assert_eq!(
        idx(s
            .query(&a, &q(&[("correlation_id", "corr-f"), ("actor", "u3")]))
            .await
            .unwrap()),
        vec![27, 23, 19, 15, 11, 7, 3]
    );
    assert_eq!(
        idx(s.query(&a, &q(&[("q", "NIGHT override")])).await.unwrap()),
        vec![25, 20, 15, 10, 5, 0]
    );
    assert_eq!(
        idx(s.query(&a, &q(&[("q", "name u2")])).await.unwrap()),
        vec![26, 22, 18, 14, 10, 6, 2]
    );

    // What came since an index: only above it, whether a term drives the scan or not, with a
    // cursor too.
    let since = |pairs: &[(&str, &str)], after: u64, cursor: Option<u64>| {
        let mut f = q(pairs);
        f.after = Some(after);
        f.cursor = cursor.map(sealbook_domain::Cursor);
        f
    };
    assert_eq!(
        idx(s
            .query(&a, &since(&[("type", "order.created")], 20, None))
            .await
            .unwrap()),
        vec![27, 24, 21]
    );
    assert_eq!(
        idx(s
            .query(&a, &since(&[("actor", "u1")], 1, Some(21)))
            .await
            .unwrap()),
        vec![17, 13, 9, 5]
    );
    assert_eq!(
        idx(s.query(&a, &since(&[], 26, None)).await.unwrap()),
        vec![29, 28, 27]
    );
    assert_eq!(
        idx(s.query(&a, &since(&[], 26, Some(29))).await.unwrap()),
        vec![28, 27]
    );
    assert!(s
        .query(&a, &since(&[("type", "order.created")], 29, None))
        .await
        .unwrap()
        .is_empty());

    let mut seen = Vec::new();
    let mut f = q(&[("limit", "7")]);
    loop {
        let page = s.query(&a, &f).await.unwrap();
        if page.is_empty() {
            break;
        }
        f.cursor = Some(sealbook_domain::Cursor(page.last().unwrap().index));
        seen.extend(page.into_iter().map(|e| e.index));
    }
    assert_eq!(seen, (0..30).rev().collect::<Vec<u64>>());
}

/// `count` says how many events paging through `query` returns, whatever the filter, cursor,
/// `after` or page size, per tenant, and over a log with a gap (a tree head ahead of its events).
pub async fn counts_agree_with_paging(h: &dyn Harness) {
    let s = setup(h, &["a", "b", "gap"]).await;
    let (a, b, gap) = (tenant("a"), tenant("b"), tenant("gap"));
    let batch = |t: &str, n: usize| {
        serde_json::Value::Array(
            (0..n)
                .map(|i| {
                    ev(
                        &format!("{t}{i}"),
                        if i % 3 == 0 {
                            "order.created"
                        } else {
                            "user.login_failed"
                        },
                        &format!("u{}", i % 4),
                        &format!("2026-01-01T00:00:{i:02}Z"),
                    )
                })
                .collect(),
        )
    };
    send(&*s, &a, batch("a", 40)).await;
    send(&*s, &b, batch("b", 5)).await;
    send(&*s, &gap, batch("g", 4)).await;
    drop(s);
    h.damage(&gap, Damage::HeadSizeAhead).await;
    let s = h.open().await;
    let paged = |t: TenantId, f: EventFilter| {
        let s = s.clone();
        async move {
            let by_pages = sealbook_store::count_by_pages(&*s, &t, &f).await.unwrap();
            let counted = s.count(&t, &f).await.unwrap();
            assert_eq!(counted, by_pages, "{t}: {f:?}");
            counted
        }
    };
    let mut f = filter(&a, &[("limit", "7")]);
    assert_eq!(paged(a.clone(), f.clone()).await, 40);
    f.cursor = Some(sealbook_domain::Cursor(10));
    assert_eq!(paged(a.clone(), f.clone()).await, 10);
    f.after = Some(3);
    assert_eq!(paged(a.clone(), f.clone()).await, 6);
    f.after = Some(12);
    assert_eq!(paged(a.clone(), f.clone()).await, 0);
    f.cursor = Some(sealbook_domain::Cursor(u64::MAX));
    f.after = None;
    assert_eq!(
        paged(a.clone(), f).await,
        40,
        "a cursor past the end reads from the end"
    );
    assert_eq!(paged(a.clone(), filter(&a, &[("actor", "u1")])).await, 10);
    assert_eq!(
        paged(a.clone(), filter(&a, &[("type", "order.*")])).await,
        14
    );
    assert_eq!(
        paged(b.clone(), filter(&b, &[])).await,
        5,
        "b's own events only"
    );
    assert_eq!(
        paged(tenant("nobody"), filter(&tenant("nobody"), &[])).await,
        0
    );
    assert_eq!(
        paged(gap.clone(), filter(&gap, &[])).await,
        4,
        "the missing leaf is not counted"
    );
}

/// `recorded_by`: Sealbook's own records, or clients' events, alone or with other filters, across
/// pages. Only Sealbook's records carry a posting for it; the client side is the predicate's.
pub async fn recorded_by_filter(h: &dyn Harness) {
    let s = setup(h, &["a"]).await;
    let a = tenant("a");
    let batch: Vec<serde_json::Value> = (0..8)
        .map(|i| {
            let ty = if i % 2 == 0 {
                "api_key.created"
            } else {
                "order.created"
            };
            ev(
                &format!("r{i}"),
                ty,
                &format!("u{}", i % 2),
                "2026-01-01T00:00:00Z",
            )
        })
        .collect();
    let marked = events_marked(&a, serde_json::Value::Array(batch), &[2, 5, 6]);
    one(&*s, req(&a, marked)).await;
    let idx = |f: EventFilter| {
        let s = s.clone();
        let a = a.clone();
        async move {
            let r = s.query(&a, &f).await.unwrap();
            r.into_iter().map(|e| e.index).collect::<Vec<u64>>()
        }
    };
    assert_eq!(
        idx(filter(&a, &[("recorded_by", "sealbook")])).await,
        [6, 5, 2]
    );
    assert_eq!(
        idx(filter(&a, &[("recorded_by", "client")])).await,
        [7, 4, 3, 1, 0]
    );
    assert_eq!(
        idx(filter(
            &a,
            &[("recorded_by", "client"), ("type", "api_key.created")]
        ))
        .await,
        [4, 0],
        "a client's look-alike of Sealbook's record"
    );
    assert_eq!(
        idx(filter(
            &a,
            &[("recorded_by", "sealbook"), ("type", "api_key.*")]
        ))
        .await,
        [6, 2]
    );
    assert_eq!(
        idx(filter(&a, &[("recorded_by", "client"), ("limit", "2")])).await,
        [7, 4],
        "a page skips Sealbook's records without coming up short"
    );
}

/// One tenant's calls never see another's events or keys.
pub async fn tenant_isolation(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    send(
        &*s,
        &a,
        serde_json::json!([ev("secret", "x.y", "u", "2026-01-01T00:00:00Z")]),
    )
    .await;
    assert!(s.event(&b, "secret").await.unwrap().is_none());
    assert!(s.query(&b, &filter(&b, &[])).await.unwrap().is_empty());
    assert!(s
        .query(&b, &filter(&b, &[("actor", "u")]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.log_size(&b).await.unwrap(), 0);
    let key = new_key(&a, "k1");
    one(
        &*s,
        AppendRequest {
            tenant: a.clone(),
            events: vec![],
            effect: Some(KeyEffect::Create(key.clone())),
        },
    )
    .await;
    assert!(s.list_keys(&b).await.unwrap().is_empty());
    assert!(s.key(&b, "k1").await.unwrap().is_none());
    let revoke_other = one(
        &*s,
        AppendRequest {
            tenant: b.clone(),
            events: vec![],
            effect: Some(KeyEffect::Revoke {
                key_id: "k1".into(),
                at: "2026-01-01T00:00:00Z".into(),
            }),
        },
    )
    .await;
    assert_eq!(revoke_other, AppendOutcome::UnknownKey);
    assert!(s
        .key_by_hash(&key.secret_hash)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
}

/// What was committed is there after the store is closed and opened again, and indexes go on.
pub async fn durability_across_reopen(h: &dyn Harness) {
    let a = tenant("a");
    {
        let s = setup(h, &["a"]).await;
        send(
            &*s,
            &a,
            serde_json::json!([
                ev("1", "x.y", "u", "2026-01-01T00:00:00Z"),
                ev("2", "x.y", "u", "2026-01-01T00:00:00Z")
            ]),
        )
        .await;
    }
    let s = h.open().await;
    let got = s
        .event(&a, "2")
        .await
        .unwrap()
        .expect("event survives reopen");
    assert_eq!(got.index, 1);
    assert_eq!(got.leaf_hash, sealbook_logmath::leaf_hash(&got.leaf));
    assert_eq!(
        got.personal.len(),
        2,
        "actor id and name are kept beside the leaf"
    );
    let next = send(
        &*s,
        &a,
        serde_json::json!([ev("3", "x.y", "u", "2026-01-01T00:00:00Z")]),
    )
    .await;
    assert_eq!(indexes(&next), vec![2]);
}

fn new_key(t: &TenantId, id: &str) -> NewKey {
    NewKey {
        record: KeyRecord {
            id: id.into(),
            tenant: t.clone(),
            name: "ci".into(),
            scopes: vec![Scope::EventsWrite, Scope::EventsRead],
            prefix: "sbk_test".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: None,
        },
        secret_hash: [id.len() as u8; 32],
    }
}

/// Key changes commit together with their audit events, or not at all.
pub async fn key_effects_commit_with_events(h: &dyn Harness) {
    let s = setup(h, &["a"]).await;
    let a = tenant("a");
    let key = new_key(&a, "k1");
    let out = one(
        &*s,
        AppendRequest {
            tenant: a.clone(),
            events: events(
                &a,
                serde_json::json!([ev("kc", "api_key.created", "op", "2026-01-01T00:00:00Z")]),
            ),
            effect: Some(KeyEffect::Create(key.clone())),
        },
    )
    .await;
    assert_eq!(indexes(&out), vec![0]);
    let stored = s
        .key_by_hash(&key.secret_hash)
        .await
        .unwrap()
        .expect("key stored");
    assert_eq!(stored.scopes, vec![Scope::EventsWrite, Scope::EventsRead]);
    assert_eq!(s.list_keys(&a).await.unwrap().len(), 1);
    let revoke = |id: &str| AppendRequest {
        tenant: a.clone(),
        events: events(
            &a,
            serde_json::json!([ev(id, "api_key.revoked", "op", "2026-01-01T00:00:00Z")]),
        ),
        effect: Some(KeyEffect::Revoke {
            key_id: "k1".into(),
            at: "2026-01-02T00:00:00Z".into(),
        }),
    };
    assert_eq!(indexes(&one(&*s, revoke("kr")).await), vec![1]);
    assert_eq!(
        s.key(&a, "k1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .as_deref(),
        Some("2026-01-02T00:00:00Z")
    );
    assert_eq!(
        one(&*s, revoke("kr2")).await,
        AppendOutcome::UnknownKey,
        "revoking twice is refused"
    );
    assert!(
        s.event(&a, "kr2").await.unwrap().is_none(),
        "and its event was not written"
    );
}

/// A time of the people tests: 2026-12-02, `hh:mm:ss.ffffff`, in the stored format.
fn at(hms: &str) -> String {
    format!("2026-12-02T{hms}Z")
}

/// A live person of `t` without a password, created at 10:00.
fn person(t: &TenantId, id: &str, email: &str, role: Role) -> User {
    User {
        id: id.into(),
        tenant: t.clone(),
        email: email.into(),
        name: format!("Name {id}"),
        role,
        created_at: at("10:00:00.000000"),
        disabled_at: None,
        has_password: false,
        has_totp: false,
    }
}

/// A session of `user_id` in `t`, opened (and last seen) at `opened`.
fn session(t: &TenantId, id: &str, user_id: &str, opened: &str) -> Session {
    Session {
        id: id.into(),
        user_id: user_id.into(),
        tenant: t.clone(),
        method: "password".into(),
        created_at: opened.into(),
        last_seen_at: opened.into(),
        expires_at: "2026-12-03T10:00:00.000000Z".into(),
        ip: Some("192.0.2.7".into()),
        user_agent: "conformance".into(),
        revoked_at: None,
    }
}

/// The request that commits `effect` on `t` with one audit event `event_id`.
fn people_req(t: &TenantId, event_id: &str, effect: PeopleEffect) -> AppendRequest {
    AppendRequest {
        tenant: t.clone(),
        events: events(
            t,
            serde_json::json!([ev(event_id, "user.changed", "op", "2026-12-02T10:00:00Z")]),
        ),
        effect: Some(KeyEffect::People(effect)),
    }
}

/// Commits `effect` on `t` with one audit event `event_id`.
async fn people(
    s: &dyn Store,
    t: &TenantId,
    event_id: &str,
    effect: PeopleEffect,
) -> AppendOutcome {
    one(s, people_req(t, event_id, effect)).await
}

/// Asserts that `effect` on `t` is refused with `why` and that nothing of its request was written:
/// neither its audit event nor any growth of the log.
async fn refused(
    s: &dyn Store,
    t: &TenantId,
    event_id: &str,
    effect: PeopleEffect,
    why: EffectRefusal,
) {
    let before = s.log_size(t).await.unwrap();
    let out = people(s, t, event_id, effect).await;
    assert_eq!(out, AppendOutcome::Refused(why), "{event_id}");
    assert_eq!(
        s.log_size(t).await.unwrap(),
        before,
        "{event_id}: a refused request grows no log"
    );
    assert!(
        s.event(t, event_id).await.unwrap().is_none(),
        "{event_id}: a refused request's event is not written"
    );
}

fn create(user: &User, token: Option<([u8; 32], &str)>) -> PeopleEffect {
    PeopleEffect::CreateUser {
        user: user.clone(),
        password_token: token.map(|(h, e)| (h, e.to_owned())),
    }
}

/// A person is created with the event that records it, read back by id, by e-mail address and in
/// the tenant's list; another tenant sees nothing of it, and may have the same e-mail address.
pub async fn people_create_and_read_per_tenant(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let zoe = person(&a, "usr_a_zoe", "zoe@example.com", Role::Viewer);
    let ana = person(&a, "usr_a_ana", "ana@example.com", Role::TenantAdmin);
    let expires = at("12:00:00.000000");
    assert_eq!(
        indexes(&people(&*s, &a, "c1", create(&zoe, None)).await),
        vec![0]
    );
    assert_eq!(
        indexes(&people(&*s, &a, "c2", create(&ana, Some(([0xa1; 32], &expires)))).await),
        vec![1]
    );
    assert!(
        s.event(&a, "c2").await.unwrap().is_some(),
        "the audit event is in the log"
    );

    assert_eq!(s.user(&a, &ana.id).await.unwrap().as_ref(), Some(&ana));
    assert_eq!(
        s.user_by_email(&a, "ana@example.com")
            .await
            .unwrap()
            .as_ref(),
        Some(&ana)
    );
    assert_eq!(
        s.list_users(&a).await.unwrap(),
        vec![ana.clone(), zoe.clone()],
        "every person of the tenant, by e-mail address"
    );
    assert_eq!(
        s.credentials(&a, &ana.id).await.unwrap(),
        Some(Credentials {
            password_hash: None,
            totp_sealed: None,
        })
    );
    assert_eq!(
        s.password_token_by_hash(&[0xa1; 32]).await.unwrap(),
        Some(PasswordToken {
            user_id: ana.id.clone(),
            tenant: a.clone(),
            expires_at: expires.clone(),
            used_at: None,
        }),
        "the set-password token is created with the person"
    );

    // Tenant b sees nothing of a's people.
    assert!(s.user(&b, &ana.id).await.unwrap().is_none());
    assert!(s
        .user_by_email(&b, "ana@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(s.list_users(&b).await.unwrap().is_empty());
    assert!(s.credentials(&b, &ana.id).await.unwrap().is_none());

    // The same e-mail address in tenant b is another person.
    let ana_b = person(&b, "usr_b_ana", "ana@example.com", Role::Auditor);
    assert_eq!(
        indexes(&people(&*s, &b, "c1", create(&ana_b, None)).await),
        vec![0]
    );
    assert_eq!(
        s.user_by_email(&b, "ana@example.com")
            .await
            .unwrap()
            .as_ref(),
        Some(&ana_b)
    );
    assert_eq!(s.list_users(&b).await.unwrap(), vec![ana_b.clone()]);
    assert_eq!(
        s.user_by_email(&a, "ana@example.com")
            .await
            .unwrap()
            .as_ref(),
        Some(&ana),
        "a's person is untouched"
    );
    assert_eq!(s.list_users(&a).await.unwrap(), vec![ana, zoe]);
    assert!(s.user(&a, &ana_b.id).await.unwrap().is_none());
}

/// A change that does not apply refuses its whole request: no person, no token, no event, no
/// growth of the log; and the request after it in the same group commits without a gap.
pub async fn people_refusals_write_nothing(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let ana = person(&a, "usr_ana", "ana@example.com", Role::Viewer);
    assert_eq!(
        indexes(&people(&*s, &a, "c1", create(&ana, None)).await),
        vec![0]
    );

    // The same e-mail address in the same tenant, with a token and two events.
    let twin = person(&a, "usr_twin", "ana@example.com", Role::TenantAdmin);
    let mut dup = people_req(
        &a,
        "dup",
        create(&twin, Some(([0xd1; 32], "2026-12-03T10:00:00.000000Z"))),
    );
    dup.events = events(
        &a,
        serde_json::json!([
            ev("dup", "user.created", "op", "2026-12-02T10:00:00Z"),
            ev("dup2", "user.created", "op", "2026-12-02T10:00:00Z")
        ]),
    );
    assert_eq!(
        one(&*s, dup).await,
        AppendOutcome::Refused(EffectRefusal::EmailTaken)
    );
    assert_eq!(
        s.log_size(&a).await.unwrap(),
        1,
        "nothing of the request is written"
    );
    assert!(s.event(&a, "dup").await.unwrap().is_none());
    assert!(s.event(&a, "dup2").await.unwrap().is_none());
    assert!(s.user(&a, &twin.id).await.unwrap().is_none());
    assert!(s
        .password_token_by_hash(&[0xd1; 32])
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.user_by_email(&a, "ana@example.com").await.unwrap(),
        Some(ana.clone()),
        "the first person keeps the address"
    );
    assert_eq!(s.list_users(&a).await.unwrap(), vec![ana.clone()]);

    // A person of another tenant than the request's.
    let stray = person(&b, "usr_stray", "stray@example.com", Role::Viewer);
    refused(
        &*s,
        &a,
        "mismatch",
        create(&stray, Some(([0xd2; 32], "2026-12-03T10:00:00.000000Z"))),
        EffectRefusal::TenantMismatch,
    )
    .await;
    assert!(s.user(&a, &stray.id).await.unwrap().is_none());
    assert!(s.user(&b, &stray.id).await.unwrap().is_none());
    assert!(s.list_users(&b).await.unwrap().is_empty());
    assert!(s
        .password_token_by_hash(&[0xd2; 32])
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.log_size(&b).await.unwrap(), 0);

    // In one group: the refused request is skipped, the next one takes the next index.
    let bob = person(&a, "usr_bob", "bob@example.com", Role::Support);
    let out = s
        .append(vec![
            people_req(&a, "g1", create(&twin, None)),
            people_req(&a, "g2", create(&bob, None)),
        ])
        .await
        .unwrap();
    assert_eq!(out[0], AppendOutcome::Refused(EffectRefusal::EmailTaken));
    assert_eq!(indexes(&out[1]), vec![1], "no gap after a refused request");
    assert!(s.event(&a, "g1").await.unwrap().is_none());
    assert_eq!(s.event(&a, "g2").await.unwrap().unwrap().index, 1);
    assert!(s.user(&a, &twin.id).await.unwrap().is_none());
    assert_eq!(s.user(&a, &bob.id).await.unwrap(), Some(bob.clone()));
    assert_eq!(s.log_size(&a).await.unwrap(), 2);
}

/// A set-password link is found by its hash (naming its tenant and person), sets the password
/// once, and is refused when used again, expired, or presented for another person.
pub async fn people_set_password_through_token(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let ana = person(&a, "usr_ana", "ana@example.com", Role::TenantAdmin);
    let bob = person(&a, "usr_bob", "bob@example.com", Role::Viewer);
    let bea = person(&b, "usr_bea", "bea@example.com", Role::Viewer);
    let (t_ana, t_bob, t_bea) = ([0x11; 32], [0x12; 32], [0x13; 32]);
    let expires = at("12:00:00.000000");
    people(&*s, &a, "c1", create(&ana, Some((t_ana, &expires)))).await;
    people(&*s, &a, "c2", create(&bob, Some((t_bob, &expires)))).await;
    people(&*s, &b, "c1", create(&bea, Some((t_bea, &expires)))).await;
    assert_eq!(s.list_users(&a).await.unwrap().len(), 2);

    assert_eq!(
        s.password_token_by_hash(&t_ana).await.unwrap(),
        Some(PasswordToken {
            user_id: ana.id.clone(),
            tenant: a.clone(),
            expires_at: expires.clone(),
            used_at: None,
        })
    );
    let bea_token = s.password_token_by_hash(&t_bea).await.unwrap().unwrap();
    assert_eq!(
        (bea_token.tenant, bea_token.user_id),
        (b.clone(), bea.id.clone())
    );
    assert!(s
        .password_token_by_hash(&[0x99; 32])
        .await
        .unwrap()
        .is_none());

    let set = |user_id: &str, hash: &str, token: Option<[u8; 32]>, when: &str| {
        PeopleEffect::SetPassword {
            user_id: user_id.into(),
            password_hash: hash.into(),
            token_hash: token,
            at: when.into(),
        }
    };
    let first = "$argon2id$v=19$m=19456,t=2,p=1$first";
    let used_at = at("11:00:00.000000");
    assert!(matches!(
        people(&*s, &a, "p1", set(&ana.id, first, Some(t_ana), &used_at)).await,
        AppendOutcome::Committed(_)
    ));
    assert_eq!(
        s.credentials(&a, &ana.id).await.unwrap(),
        Some(Credentials {
            password_hash: Some(first.into()),
            totp_sealed: None,
        })
    );
    assert!(s.user(&a, &ana.id).await.unwrap().unwrap().has_password);
    assert_eq!(
        s.password_token_by_hash(&t_ana)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(used_at.clone()),
        "the token is consumed with the change"
    );
    assert!(
        !s.user(&a, &bob.id).await.unwrap().unwrap().has_password,
        "another person's password is untouched"
    );

    // Used once: refused, and the password stays.
    refused(
        &*s,
        &a,
        "p2",
        set(
            &ana.id,
            "$argon2id$second",
            Some(t_ana),
            &at("11:10:00.000000"),
        ),
        EffectRefusal::TokenInvalid,
    )
    .await;
    assert_eq!(
        s.credentials(&a, &ana.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some(first)
    );
    assert_eq!(
        s.password_token_by_hash(&t_ana)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(used_at.clone()),
        "a refused use does not move the use time"
    );

    // Another person's token (bob's, for ana), and another tenant's (bea's, in a).
    refused(
        &*s,
        &a,
        "p3",
        set(
            &ana.id,
            "$argon2id$third",
            Some(t_bob),
            &at("11:20:00.000000"),
        ),
        EffectRefusal::TokenInvalid,
    )
    .await;
    refused(
        &*s,
        &a,
        "p4",
        set(
            &ana.id,
            "$argon2id$fourth",
            Some(t_bea),
            &at("11:20:00.000000"),
        ),
        EffectRefusal::TokenInvalid,
    )
    .await;
    assert_eq!(
        s.credentials(&a, &ana.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some(first)
    );
    assert!(s
        .password_token_by_hash(&t_bob)
        .await
        .unwrap()
        .unwrap()
        .used_at
        .is_none());
    assert!(s
        .password_token_by_hash(&t_bea)
        .await
        .unwrap()
        .unwrap()
        .used_at
        .is_none());
    assert!(!s.user(&a, &bob.id).await.unwrap().unwrap().has_password);

    // Expired: bob's token expires at 12:00; used a microsecond later it is refused.
    refused(
        &*s,
        &a,
        "p5",
        set(
            &bob.id,
            "$argon2id$late",
            Some(t_bob),
            &at("12:00:00.000001"),
        ),
        EffectRefusal::TokenInvalid,
    )
    .await;
    assert!(!s.user(&a, &bob.id).await.unwrap().unwrap().has_password);
    assert!(s
        .password_token_by_hash(&t_bob)
        .await
        .unwrap()
        .unwrap()
        .used_at
        .is_none());
    // A new token made for bob, already expired at the time of use, is refused too.
    let t_bob2 = [0x14; 32];
    assert!(matches!(
        people(
            &*s,
            &a,
            "t1",
            PeopleEffect::CreatePasswordToken {
                user_id: bob.id.clone(),
                token_hash: t_bob2,
                expires_at: at("10:30:00.000000"),
            },
        )
        .await,
        AppendOutcome::Committed(_)
    ));
    refused(
        &*s,
        &a,
        "p6",
        set(
            &bob.id,
            "$argon2id$late",
            Some(t_bob2),
            &at("11:00:00.000000"),
        ),
        EffectRefusal::TokenInvalid,
    )
    .await;
    // The first one, used before it expires, still works: it was the time that refused it.
    let bobs = "$argon2id$v=19$bob";
    assert!(matches!(
        people(
            &*s,
            &a,
            "p7",
            set(&bob.id, bobs, Some(t_bob), &at("11:59:59.999999"))
        )
        .await,
        AppendOutcome::Committed(_)
    ));
    assert_eq!(
        s.credentials(&a, &bob.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .as_deref(),
        Some(bobs)
    );
    assert!(s.user(&a, &bob.id).await.unwrap().unwrap().has_password);

    // Without a token (an admin's reset): no token needed.
    assert!(matches!(
        people(&*s, &b, "p1", set(&bea.id, "$argon2id$bea", None, &used_at)).await,
        AppendOutcome::Committed(_)
    ));
    assert!(s.user(&b, &bea.id).await.unwrap().unwrap().has_password);
    assert!(
        s.credentials(&a, &bea.id).await.unwrap().is_none(),
        "credentials are read in the person's tenant only"
    );
}

/// Sessions open, are seen, listed and revoked (by their owner only, once); deactivating a person
/// revokes every live session of theirs and refuses later changes; roles change on live people.
pub async fn people_sessions_and_disable(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let ana = person(&a, "usr_ana", "ana@example.com", Role::TenantAdmin);
    let bob = person(&a, "usr_bob", "bob@example.com", Role::Viewer);
    people(&*s, &a, "c1", create(&ana, None)).await;
    people(&*s, &a, "c2", create(&bob, None)).await;
    assert_eq!(s.list_users(&a).await.unwrap().len(), 2);
    let open = |id_hash: [u8; 32], session: &Session| PeopleEffect::OpenSession {
        id_hash,
        session: session.clone(),
    };
    let revoke =
        |session_id: &str, user_id: Option<&str>, when: &str| PeopleEffect::RevokeSession {
            session_id: session_id.into(),
            user_id: user_id.map(str::to_owned),
            at: when.into(),
        };

    let (h1, h2, h3, h4) = ([0x21; 32], [0x22; 32], [0x23; 32], [0x24; 32]);
    let mut s1 = session(&a, "ses_1", &ana.id, &at("10:00:00.000000"));
    assert!(matches!(
        people(&*s, &a, "o1", open(h1, &s1)).await,
        AppendOutcome::Committed(_)
    ));
    assert_eq!(s.session_by_hash(&h1).await.unwrap().as_ref(), Some(&s1));
    assert!(s.session_by_hash(&h4).await.unwrap().is_none());

    // Last seen moves forward only, and only through the session's tenant.
    s.touch_session(&a, "ses_1", &at("10:30:00.000000"))
        .await
        .unwrap();
    s1.last_seen_at = at("10:30:00.000000");
    assert_eq!(s.session_by_hash(&h1).await.unwrap().as_ref(), Some(&s1));
    s.touch_session(&a, "ses_1", &at("10:15:00.000000"))
        .await
        .unwrap();
    assert_eq!(
        s.session_by_hash(&h1).await.unwrap().unwrap().last_seen_at,
        at("10:30:00.000000"),
        "last seen never moves backward"
    );
    s.touch_session(&b, "ses_1", &at("10:45:00.000000"))
        .await
        .unwrap();
    assert_eq!(
        s.session_by_hash(&h1).await.unwrap().unwrap().last_seen_at,
        at("10:30:00.000000"),
        "another tenant cannot touch the session"
    );

    let s2 = session(&a, "ses_2", &ana.id, &at("11:00:00.000000"));
    people(&*s, &a, "o2", open(h2, &s2)).await;
    let s3 = session(&a, "ses_3", &bob.id, &at("11:00:00.000000"));
    people(&*s, &a, "o3", open(h3, &s3)).await;
    assert_eq!(
        s.list_sessions(&a, &ana.id).await.unwrap(),
        vec![s2.clone(), s1.clone()],
        "the person's sessions, newest first"
    );
    assert_eq!(
        s.list_sessions(&a, &bob.id).await.unwrap(),
        vec![s3.clone()]
    );
    assert!(s.list_sessions(&b, &ana.id).await.unwrap().is_empty());

    // Revoking: not another person's session, not another tenant's, then once.
    refused(
        &*s,
        &a,
        "r1",
        revoke("ses_1", Some(&bob.id), &at("12:00:00.000000")),
        EffectRefusal::UnknownSession,
    )
    .await;
    refused(
        &*s,
        &b,
        "r2",
        revoke("ses_1", None, &at("12:00:00.000000")),
        EffectRefusal::UnknownSession,
    )
    .await;
    refused(
        &*s,
        &a,
        "r3",
        revoke("ses_nope", None, &at("12:00:00.000000")),
        EffectRefusal::UnknownSession,
    )
    .await;
    assert!(s
        .session_by_hash(&h1)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_none());
    assert!(matches!(
        people(
            &*s,
            &a,
            "r4",
            revoke("ses_1", Some(&ana.id), &at("12:00:00.000000"))
        )
        .await,
        AppendOutcome::Committed(_)
    ));
    s1.revoked_at = Some(at("12:00:00.000000"));
    assert_eq!(s.session_by_hash(&h1).await.unwrap().as_ref(), Some(&s1));
    refused(
        &*s,
        &a,
        "r5",
        revoke("ses_1", Some(&ana.id), &at("12:30:00.000000")),
        EffectRefusal::UnknownSession,
    )
    .await;
    assert_eq!(
        s.session_by_hash(&h1).await.unwrap().unwrap().revoked_at,
        Some(at("12:00:00.000000")),
        "revoking again does not move the revocation time"
    );
    assert_eq!(
        s.list_sessions(&a, &ana.id).await.unwrap(),
        vec![s2.clone(), s1.clone()],
        "revoked sessions are listed too"
    );

    // Roles: on an unknown person, on another tenant's, then on a live one.
    refused(
        &*s,
        &a,
        "role1",
        PeopleEffect::SetRole {
            user_id: "usr_nobody".into(),
            role: Role::Auditor,
        },
        EffectRefusal::UnknownUser,
    )
    .await;
    refused(
        &*s,
        &b,
        "role2",
        PeopleEffect::SetRole {
            user_id: bob.id.clone(),
            role: Role::Auditor,
        },
        EffectRefusal::UnknownUser,
    )
    .await;
    assert_eq!(
        s.user(&a, &bob.id).await.unwrap().unwrap().role,
        Role::Viewer
    );
    assert!(matches!(
        people(
            &*s,
            &a,
            "role3",
            PeopleEffect::SetRole {
                user_id: bob.id.clone(),
                role: Role::Auditor,
            },
        )
        .await,
        AppendOutcome::Committed(_)
    ));
    assert_eq!(
        s.user(&a, &bob.id).await.unwrap().unwrap().role,
        Role::Auditor
    );

    // Deactivating ana revokes her live session (not the revoked one's time, not bob's).
    refused(
        &*s,
        &a,
        "d0",
        PeopleEffect::DisableUser {
            user_id: "usr_nobody".into(),
            at: at("13:00:00.000000"),
        },
        EffectRefusal::UnknownUser,
    )
    .await;
    assert!(matches!(
        people(
            &*s,
            &a,
            "d1",
            PeopleEffect::DisableUser {
                user_id: ana.id.clone(),
                at: at("13:00:00.000000"),
            },
        )
        .await,
        AppendOutcome::Committed(_)
    ));
    assert_eq!(
        s.user(&a, &ana.id).await.unwrap().unwrap().disabled_at,
        Some(at("13:00:00.000000"))
    );
    assert_eq!(
        s.session_by_hash(&h2).await.unwrap().unwrap().revoked_at,
        Some(at("13:00:00.000000")),
        "a live session of the person is revoked"
    );
    assert_eq!(
        s.session_by_hash(&h1).await.unwrap().unwrap().revoked_at,
        Some(at("12:00:00.000000")),
        "an already revoked session keeps its time"
    );
    assert!(
        s.session_by_hash(&h3)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "another person's session is untouched"
    );
    assert!(s
        .list_sessions(&a, &ana.id)
        .await
        .unwrap()
        .iter()
        .all(|x| x.revoked_at.is_some()));

    // A deactivated person: no new session, no role.
    let s4 = session(&a, "ses_4", &ana.id, &at("13:30:00.000000"));
    refused(&*s, &a, "o4", open(h4, &s4), EffectRefusal::UserDisabled).await;
    assert!(s.session_by_hash(&h4).await.unwrap().is_none());
    assert_eq!(s.list_sessions(&a, &ana.id).await.unwrap().len(), 2);
    refused(
        &*s,
        &a,
        "role4",
        PeopleEffect::SetRole {
            user_id: ana.id.clone(),
            role: Role::Viewer,
        },
        EffectRefusal::UserDisabled,
    )
    .await;
    assert_eq!(
        s.user(&a, &ana.id).await.unwrap().unwrap().role,
        Role::TenantAdmin
    );
}

/// Many concurrent callers: one gap-free sequence.
pub async fn concurrent_appends(h: &dyn Harness) {
    let s = setup(h, &["a"]).await;
    let a = tenant("a");
    let mut tasks = Vec::new();
    for c in 0..4 {
        let s = s.clone();
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25 {
                let e = events(
                    &a,
                    serde_json::json!([ev(
                        &format!("c{c}-{i}"),
                        "x.y",
                        "u",
                        "2026-01-01T00:00:00Z"
                    )]),
                );
                got.extend(indexes(&one(&*s, req(&a, e)).await));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<u64>>());
}

/// The tenant's tree always matches its events: the head's size is the log size, its root is the
/// RFC 6962 root of the leaf hashes in index order, and every tile a tree of that size has is
/// stored with exactly the right hashes. Checked after groups of awkward sizes and a reopen.
pub async fn tree_matches_events(h: &dyn Harness) {
    use sealbook_logmath::{root, tile::tiles_for_size, Hash, MemoryTree, NodeSource};
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    assert_eq!(
        s.tree_head(&a).await.unwrap(),
        sealbook_store::TreeHead {
            size: 0,
            root: sealbook_logmath::EMPTY_ROOT
        }
    );
    let mut n = 0;
    for (round, sizes) in [vec![1usize, 300], vec![255, 1, 700], vec![2]]
        .into_iter()
        .enumerate()
    {
        let reqs = sizes
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let evs: Vec<serde_json::Value> = (0..*k)
                    .map(|j| {
                        ev(
                            &format!("r{round}-{i}-{j}"),
                            "x.y",
                            "u",
                            "2026-01-01T00:00:00Z",
                        )
                    })
                    .collect();
                req(&a, events(&a, serde_json::Value::Array(evs)))
            })
            .chain(std::iter::once(req(
                &b,
                events(
                    &b,
                    serde_json::json!([ev(
                        &format!("b{round}"),
                        "x.y",
                        "u",
                        "2026-01-01T00:00:00Z"
                    )]),
                ),
            )))
            .collect();
        s.append(reqs).await.unwrap();
        n += sizes.iter().sum::<usize>() as u64;
    }
    drop(s);
    let s = h.open().await;
    let head = s.tree_head(&a).await.unwrap();
    assert_eq!(head.size, n);
    assert_eq!(s.log_size(&a).await.unwrap(), n);
    let mut leaves: Vec<(u64, Hash)> = Vec::new();
    let mut f = filter(&a, &[("limit", "1000")]);
    loop {
        let page = s.query(&a, &f).await.unwrap();
        let Some(last) = page.last() else { break };
        f.cursor = Some(sealbook_domain::Cursor(last.index));
        leaves.extend(page.iter().map(|e| (e.index, e.leaf_hash)));
    }
    leaves.sort();
    let levels = MemoryTree::from_leaves(leaves.into_iter().map(|(_, h)| h).collect());
    assert_eq!(
        head.root,
        root(&levels, n).unwrap(),
        "root of the stored leaves"
    );
    for t in tiles_for_size(n) {
        let stored = s
            .tile(&a, t.level, t.number)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{t:?} missing"));
        let want: Vec<Hash> = (0..u64::from(t.width))
            .map(|i| levels.node(8 * t.level, t.number * 256 + i).unwrap())
            .collect();
        assert_eq!(stored, want, "{t:?}");
    }
    assert_eq!(
        s.tree_head(&b).await.unwrap().size,
        3,
        "tenants have separate trees"
    );
    assert!(s.tile(&b, 0, 1).await.unwrap().is_none());
}

/// `entries` and `personal` return a range of one tenant's log in index order (leaves, and the
/// personal values that open their commitments), and nothing of another tenant.
pub async fn entries_in_log_order(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let batch: Vec<serde_json::Value> = (0..600)
        .map(|i| {
            ev(
                &format!("e{i}"),
                "order.updated",
                "u1",
                "2026-01-01T00:00:00Z",
            )
        })
        .collect();
    let receipts = match send(&*s, &a, serde_json::Value::Array(batch)).await {
        AppendOutcome::Committed(r) => r,
        other => panic!("{other:?}"),
    };
    send(
        &*s,
        &b,
        serde_json::json!([ev("x1", "order.updated", "u9", "2026-01-01T00:00:00Z")]),
    )
    .await;
    let got = s.entries(&a, 256, 512).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.0).collect::<Vec<_>>(),
        (256..512).collect::<Vec<_>>()
    );
    for (index, leaf) in &got {
        assert_eq!(
            sealbook_logmath::leaf_hash(leaf),
            receipts[*index as usize].leaf_hash
        );
    }
    let personal = s.personal(&a, 256, 512).await.unwrap();
    assert_eq!(
        personal.iter().map(|e| e.0).collect::<Vec<_>>(),
        (256..512).collect::<Vec<_>>()
    );
    for (index, raw) in &personal {
        let values: Vec<sealbook_domain::PersonalValue> = serde_json::from_slice(raw).unwrap();
        let leaf: serde_json::Value =
            serde_json::from_slice(&got[*index as usize - 256].1).unwrap();
        assert!(!values.is_empty(), "actor id and name are personal");
        for v in values {
            assert_eq!(v.check_against(&leaf), Ok(()));
        }
    }
    assert!(s.personal(&b, 0, 600).await.unwrap().len() == 1);
    assert_eq!(
        s.entries(&a, 590, 700).await.unwrap().len(),
        10,
        "clipped at the log's end"
    );
    assert!(s.entries(&a, 600, 700).await.unwrap().is_empty());
    assert!(s.entries(&a, 5, 5).await.unwrap().is_empty());
    assert_eq!(
        s.entries(&b, 0, 600).await.unwrap().len(),
        1,
        "only b's own event"
    );
    assert!(s
        .entries(&tenant("nobody"), 0, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Checkpoints are stored per tenant, only ever larger than the latest, and every one is kept;
/// `unsigned_growth` lists exactly the tenants whose tree outgrew their latest checkpoint.
pub async fn checkpoints_only_grow(h: &dyn Harness) {
    use sealbook_store::{CheckpointOutcome, StoredCheckpoint};
    let s = setup(h, &["a", "b", "c"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let batch = |p: &str, n: usize| {
        serde_json::Value::Array(
            (0..n)
                .map(|i| {
                    ev(
                        &format!("{p}{i}"),
                        "order.updated",
                        "u1",
                        "2026-01-01T00:00:00Z",
                    )
                })
                .collect(),
        )
    };
    send(&*s, &a, batch("a", 5)).await;
    send(&*s, &b, batch("b", 2)).await;
    assert!(s.latest_checkpoint(&a).await.unwrap().is_none());
    let mut growth = s.unsigned_growth().await.unwrap();
    growth.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
    assert_eq!(
        growth
            .iter()
            .map(|g| (g.0.as_str().to_owned(), g.1.size, g.2.clone()))
            .collect::<Vec<_>>(),
        vec![("a".to_owned(), 5, None), ("b".to_owned(), 2, None)],
        "c has no events and needs no checkpoint"
    );
    let head = s.tree_head(&a).await.unwrap();
    let cp = |size: u64, note: &str| StoredCheckpoint {
        size,
        root: head.root,
        note: note.to_owned(),
        signed_at: "2026-01-01T00:00:00Z".to_owned(),
    };
    assert_eq!(
        s.add_checkpoint(&a, cp(5, "five\n")).await.unwrap(),
        CheckpointOutcome::Stored
    );
    assert_eq!(
        s.add_checkpoint(&a, cp(5, "again\n")).await.unwrap(),
        CheckpointOutcome::Superseded { latest: 5 }
    );
    assert_eq!(
        s.add_checkpoint(&a, cp(3, "smaller\n")).await.unwrap(),
        CheckpointOutcome::Superseded { latest: 5 }
    );
    assert_eq!(
        s.latest_checkpoint(&a).await.unwrap(),
        Some(cp(5, "five\n"))
    );
    assert!(
        s.latest_checkpoint(&b).await.unwrap().is_none(),
        "per tenant"
    );
    let growth = s.unsigned_growth().await.unwrap();
    assert_eq!(growth.len(), 1);
    assert_eq!(growth[0].0, b);
    send(&*s, &a, batch("n", 1)).await;
    drop(s);
    let s = h.open().await;
    let growth = s.unsigned_growth().await.unwrap();
    let ga = growth.iter().find(|g| g.0 == a).expect("a grew again");
    assert_eq!(
        (ga.1.size, ga.2.clone()),
        (6, Some(cp(5, "five\n"))),
        "kept across reopen"
    );
}

/// Signing keys are recorded once each, in order; a pinned setting keeps its first value.
pub async fn signing_keys_and_settings(h: &dyn Harness) {
    let s = setup(h, &[]).await;
    assert!(s.signing_keys().await.unwrap().is_empty());
    s.record_signing_key([1; 32]).await.unwrap();
    s.record_signing_key([2; 32]).await.unwrap();
    s.record_signing_key([1; 32]).await.unwrap();
    assert_eq!(s.signing_keys().await.unwrap(), vec![[1; 32], [2; 32]]);
    assert_eq!(
        s.pin_setting("origin", "x.example/a").await.unwrap(),
        "x.example/a"
    );
    assert_eq!(
        s.pin_setting("origin", "y.example/b").await.unwrap(),
        "x.example/a"
    );
    drop(s);
    let s = h.open().await;
    assert_eq!(s.pin_setting("origin", "z").await.unwrap(), "x.example/a");
    assert_eq!(s.signing_keys().await.unwrap().len(), 2);
}

/// The corruption `r` must be, of tenant `t`.
fn corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, t: &TenantId, what: &str) -> Corruption {
    match r {
        Err(StoreError::Corrupt(c)) if c.tenant.as_ref() == Some(t) => c,
        other => panic!("{what}: expected corrupt data of tenant {t}, got {other:?}"),
    }
}

/// Stored data that cannot be what it must be is reported as [`StoreError::Corrupt`] naming the
/// tenant (and the tile where it is one), never as an unavailable store or a made-up value, and an
/// append over it writes nothing. The store is reopened after the damage: a PostgreSQL node that
/// appended last trusts its own copy of the tree's right edge while the stored size matches it.
pub async fn damage_is_reported_as_corrupt(h: &dyn Harness) {
    let names = ["ok", "tile", "head", "behind", "root"];
    let s = setup(h, &names).await;
    let three = |t: &TenantId, tag: &str| {
        req(
            t,
            events(
                t,
                serde_json::json!([
                    ev(&format!("{tag}1"), "x.y", "u", "2026-01-01T00:00:00Z"),
                    ev(&format!("{tag}2"), "x.y", "u", "2026-01-01T00:00:01Z"),
                    ev(&format!("{tag}3"), "x.y", "u", "2026-01-01T00:00:02Z")
                ]),
            ),
        )
    };
    s.append(names.iter().map(|n| three(&tenant(n), "a")).collect())
        .await
        .unwrap();
    drop(s);
    let (tile, head, root) = (tenant("tile"), tenant("head"), tenant("root"));
    let behind = tenant("behind");
    h.damage(&tile, Damage::TruncateOpenTile).await;
    h.damage(&head, Damage::HeadSizeAhead).await;
    h.damage(&behind, Damage::HeadSizeBehind).await;
    h.damage(&root, Damage::TruncateRoot).await;
    let s = h.open().await;

    let c = corrupt(
        s.tile(&tile, 0, 0).await,
        &tile,
        "tile() of a truncated tile",
    );
    assert_eq!(
        c.at,
        Some(Place::Tile {
            level: 0,
            number: 0
        })
    );
    let c = corrupt(
        s.append(vec![three(&tile, "b")]).await,
        &tile,
        "append over a truncated open tile",
    );
    assert_eq!(
        c.at,
        Some(Place::Tile {
            level: 0,
            number: 0
        })
    );
    corrupt(
        s.append(vec![three(&head, "b")]).await,
        &head,
        "append over a tree head ahead of the log",
    );
    corrupt(
        s.append(vec![three(&behind, "b")]).await,
        &behind,
        "append over a tree head behind the log",
    );
    let c = corrupt(
        s.tree_head(&root).await,
        &root,
        "tree_head() of a truncated root",
    );
    assert_eq!(c.at, Some(Place::TreeHead));
    // Nothing was written for the damaged tenants; the others still append.
    for t in [&tile, &head, &behind] {
        assert_eq!(s.entries(t, 0, 10).await.unwrap().len(), 3, "{t}");
    }
    let ok = tenant("ok");
    assert_eq!(indexes(&one(&*s, three(&ok, "b")).await), vec![3, 4, 5]);
}

/// A rebuild target that fails when asked to rewrite `fail`'s hashes: a crash in the middle.
struct Interrupted<'a> {
    inner: &'a dyn HashRebuild,
    fail: TenantId,
}

#[async_trait::async_trait]
impl HashRebuild for Interrupted<'_> {
    async fn hash_format(&self) -> Result<Option<String>, StoreError> {
        self.inner.hash_format().await
    }
    async fn rehash_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.inner.rehash_tenants().await
    }
    async fn rehash_sources(
        &self,
        tenant: &TenantId,
        start: u64,
        limit: u64,
    ) -> Result<Vec<RehashSource>, StoreError> {
        self.inner.rehash_sources(tenant, start, limit).await
    }
    async fn replace_hashes(
        &self,
        tenant: &TenantId,
        start: u64,
        end: u64,
        events: Vec<Rehashed>,
    ) -> Result<(), StoreError> {
        if *tenant == self.fail {
            return Err(StoreError::Unavailable("interrupted".into()));
        }
        self.inner.replace_hashes(tenant, start, end, events).await
    }
    async fn set_hash_format(&self, format: &str) -> Result<(), StoreError> {
        self.inner.set_hash_format(format).await
    }
}

/// Rebuilding postings and content hashes under new keys: an interrupted rebuild leaves the
/// format as it was, and running it again gives every tenant's events postings and content hashes
/// under the new keys only (searches under the new keys find them, under the old ones nothing; a
/// faithful retry shaped under the new keys replays, other content conflicts).
pub async fn hash_rebuild_rekeys_and_survives_interruption(h: &dyn Harness) {
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let batch_a = serde_json::json!([
        ev("1", "x.y", "u1", "2026-01-01T00:00:00Z"),
        ev("2", "x.y", "u2", "2026-01-01T00:00:01Z"),
        ev("3", "x.z", "u1", "2026-01-01T00:00:02Z")
    ]);
    let AppendOutcome::Committed(first) = send(&*s, &a, batch_a.clone()).await else {
        panic!()
    };
    send(
        &*s,
        &b,
        serde_json::json!([ev("1", "x.y", "u1", "2026-01-01T00:00:00Z")]),
    )
    .await;
    let owner = h.owner_rebuild().await;
    let target: &dyn HashRebuild = match (&owner, s.hash_rebuild()) {
        (Some(o), _) => &**o,
        (None, Some(r)) => r,
        (None, None) => panic!("a backend MUST offer the rebuild, itself or as its owner"),
    };
    target.set_hash_format("old").await.unwrap();
    assert_eq!(target.hash_format().await.unwrap().as_deref(), Some("old"));
    let new_keys = |t: &TenantId| keys(&tenant(&format!("new-{t}")));
    let quiet = |_: &TenantId, _: u64| {};

    let broken = Interrupted {
        inner: target,
        fail: b.clone(),
    };
    assert!(rebuild_hashes(&broken, &new_keys, "new", &quiet)
        .await
        .is_err());
    assert_eq!(
        target.hash_format().await.unwrap().as_deref(),
        Some("old"),
        "an interrupted rebuild does not claim the new format"
    );
    assert_eq!(
        rebuild_hashes(target, &new_keys, "new", &quiet)
            .await
            .unwrap(),
        RebuildReport {
            tenants: 2,
            events: 4
        }
    );
    assert_eq!(target.hash_format().await.unwrap().as_deref(), Some("new"));

    let search = |k: &TenantKeys, pairs: &[(&str, &str)]| {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EventFilter::from_query(&v, &k.search).unwrap()
    };
    for (t, pairs, n) in [
        (&a, &[("actor", "u1")][..], 2),
        (&a, &[("subject", "order:o-2")][..], 1),
        (&a, &[("ref", "order_number:PO-3")][..], 1),
        (&a, &[("q", "name u2")][..], 1),
        (&b, &[("actor", "u1")][..], 1),
    ] {
        let found = s.query(t, &search(&new_keys(t), pairs)).await.unwrap();
        assert_eq!(found.len(), n, "{t} {pairs:?} under the new keys");
        let old = s.query(t, &search(&keys(t), pairs)).await.unwrap();
        assert!(old.is_empty(), "{t} {pairs:?}: the old postings are gone");
    }

    let retry = shaped_with(&a, batch_a, &[], &new_keys(&a));
    let AppendOutcome::Committed(again) = one(&*s, req(&a, retry)).await else {
        panic!("a faithful retry under the new keys")
    };
    assert_eq!(
        again
            .iter()
            .map(|r| (r.index, r.leaf_hash, r.replayed))
            .collect::<Vec<_>>(),
        first
            .iter()
            .map(|r| (r.index, r.leaf_hash, true))
            .collect::<Vec<_>>()
    );
    let changed = shaped_with(
        &a,
        serde_json::json!([ev("1", "x.other", "u1", "2026-01-01T00:00:00Z")]),
        &[],
        &new_keys(&a),
    );
    assert!(matches!(
        one(&*s, req(&a, changed)).await,
        AppendOutcome::Conflict { .. }
    ));
    assert_eq!(s.log_size(&a).await.unwrap(), 3);
}

/// A second factor is stored sealed and each time step is used once; settings are per tenant;
/// an operator's access is recorded in the tenant accessed, ends once, and a lapsed one is found
/// by the platform's sweep. Another tenant sees none of it.
pub async fn people_totp_settings_and_access(h: &dyn Harness) {
    use sealbook_domain::TenantSettings;
    use sealbook_store::AccessGrant;
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let ana = person(&a, "usr_ana", "ana@example.com", Role::TenantAdmin);
    people(&*s, &a, "c1", create(&ana, None)).await;

    // TOTP: enabled with its sealed key, steps used once and in order only, removed.
    let sealed = vec![7u8; 60];
    let totp = |sealed: Option<Vec<u8>>, user: &str| PeopleEffect::SetTotp {
        user_id: user.into(),
        sealed,
        at: at("10:05:00.000000"),
    };
    assert!(
        !s.use_totp_step(&a, &ana.id, 5).await.unwrap(),
        "no factor: no step"
    );
    assert!(matches!(
        people(&*s, &a, "t1", totp(Some(sealed.clone()), &ana.id)).await,
        AppendOutcome::Committed(_)
    ));
    assert!(s.user(&a, &ana.id).await.unwrap().unwrap().has_totp);
    assert_eq!(
        s.credentials(&a, &ana.id)
            .await
            .unwrap()
            .unwrap()
            .totp_sealed,
        Some(sealed.clone())
    );
    assert!(s.use_totp_step(&a, &ana.id, 100).await.unwrap());
    assert!(
        !s.use_totp_step(&a, &ana.id, 100).await.unwrap(),
        "a step works once"
    );
    assert!(
        !s.use_totp_step(&a, &ana.id, 99).await.unwrap(),
        "an older step never"
    );
    assert!(
        !s.use_totp_step(&b, &ana.id, 101).await.unwrap(),
        "nor through another tenant"
    );
    assert!(s.use_totp_step(&a, &ana.id, 101).await.unwrap());
    refused(
        &*s,
        &a,
        "t2",
        totp(None, "usr_nobody"),
        EffectRefusal::UnknownUser,
    )
    .await;
    people(&*s, &a, "t3", totp(None, &ana.id)).await;
    assert!(!s.user(&a, &ana.id).await.unwrap().unwrap().has_totp);
    assert_eq!(
        s.credentials(&a, &ana.id)
            .await
            .unwrap()
            .unwrap()
            .totp_sealed,
        None
    );

    // Settings: none until set, replaced whole, per tenant.
    assert_eq!(s.settings(&a).await.unwrap(), None);
    let mut set = TenantSettings::default();
    set.frame_ancestors.push("https://app.example.com".into());
    set.record_links
        .insert("order".into(), "https://app.example.com/o/{id}".into());
    let put = |settings: &TenantSettings| PeopleEffect::SetSettings {
        settings: settings.clone(),
        at: at("10:06:00.000000"),
    };
    people(&*s, &a, "s1", put(&set)).await;
    assert_eq!(s.settings(&a).await.unwrap().as_ref(), Some(&set));
    set.viewer_types.push("order.".into());
    set.frame_ancestors.clear();
    people(&*s, &a, "s2", put(&set)).await;
    assert_eq!(s.settings(&a).await.unwrap().as_ref(), Some(&set));
    assert_eq!(
        s.settings(&b).await.unwrap(),
        None,
        "another tenant's settings are its own"
    );

    // Operator access: recorded in the tenant accessed, ended once.
    let grant = |id: &str, t: &TenantId, started: &str, expires: &str| AccessGrant {
        id: id.into(),
        tenant: t.clone(),
        operator_id: "usr_op".into(),
        operator_email: "op@platform.example".into(),
        reason: "customer asked about order 4472".into(),
        ticket: "SUP-1".into(),
        started_at: at(started),
        expires_at: at(expires),
        ended_at: None,
    };
    let g1 = grant("acc_1", &a, "10:10:00.000000", "11:10:00.000000");
    refused(
        &*s,
        &b,
        "g0",
        PeopleEffect::StartAccess(g1.clone()),
        EffectRefusal::TenantMismatch,
    )
    .await;
    people(&*s, &a, "g1", PeopleEffect::StartAccess(g1.clone())).await;
    let g2 = grant("acc_2", &a, "10:20:00.000000", "10:50:00.000000");
    people(&*s, &a, "g2", PeopleEffect::StartAccess(g2.clone())).await;
    assert_eq!(
        s.access_grant(&a, "acc_1").await.unwrap().as_ref(),
        Some(&g1)
    );
    assert_eq!(
        s.access_grant(&b, "acc_1").await.unwrap(),
        None,
        "not through another tenant"
    );
    assert_eq!(
        s.list_access_grants(&a, 10).await.unwrap(),
        vec![g2.clone(), g1.clone()],
        "newest first"
    );
    assert_eq!(s.list_access_grants(&a, 1).await.unwrap().len(), 1);
    assert!(s.list_access_grants(&b, 10).await.unwrap().is_empty());
    // At 11:00 the second has lapsed (10:50) without an end; the first has not.
    assert_eq!(
        s.lapsed_access_grants(&at("11:00:00.000000"), 10)
            .await
            .unwrap(),
        vec![g2.clone()]
    );
    let end = |id: &str, t: &str| PeopleEffect::EndAccess {
        grant_id: id.into(),
        at: at(t),
    };
    refused(
        &*s,
        &b,
        "e0",
        end("acc_2", "11:00:00.000000"),
        EffectRefusal::UnknownAccess,
    )
    .await;
    people(&*s, &a, "e1", end("acc_2", "11:00:00.000000")).await;
    refused(
        &*s,
        &a,
        "e2",
        end("acc_2", "11:01:00.000000"),
        EffectRefusal::UnknownAccess,
    )
    .await;
    assert_eq!(
        s.access_grant(&a, "acc_2").await.unwrap().unwrap().ended_at,
        Some(at("11:00:00.000000"))
    );
    assert!(s
        .lapsed_access_grants(&at("11:00:00.000000"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.lapsed_access_grants(&at("12:00:00.000000"), 10)
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.id)
            .collect::<Vec<_>>(),
        vec!["acc_1".to_owned()]
    );
}

/// A person's saved searches: theirs only, by name, bounded, deleted by their owner only.
pub async fn people_saved_searches(h: &dyn Harness) {
    use sealbook_store::{SavedSearch, MAX_SAVED_SEARCHES};
    let s = setup(h, &["a", "b"]).await;
    let (a, b) = (tenant("a"), tenant("b"));
    let ana = person(&a, "usr_ana", "ana@example.com", Role::Auditor);
    let zoe = person(&a, "usr_zoe", "zoe@example.com", Role::Auditor);
    people(&*s, &a, "c1", create(&ana, None)).await;
    people(&*s, &a, "c2", create(&zoe, None)).await;
    let search = |id: &str, user: &str, name: &str| SavedSearch {
        id: id.into(),
        user_id: user.into(),
        name: name.into(),
        query: format!("actor=u-{id}"),
        created_at: at("10:00:00.000000"),
    };
    assert!(s
        .save_search(&a, &search("s2", &ana.id, "Zeta"))
        .await
        .unwrap());
    assert!(s
        .save_search(&a, &search("s1", &ana.id, "Alpha"))
        .await
        .unwrap());
    assert!(s
        .save_search(&a, &search("s3", &zoe.id, "Hers"))
        .await
        .unwrap());
    assert_eq!(
        s.saved_searches(&a, &ana.id).await.unwrap(),
        vec![
            search("s1", &ana.id, "Alpha"),
            search("s2", &ana.id, "Zeta")
        ],
        "by name, the person's own"
    );
    assert!(
        s.saved_searches(&b, &ana.id).await.unwrap().is_empty(),
        "not through another tenant"
    );
    assert!(
        !s.delete_saved_search(&a, &zoe.id, "s1").await.unwrap(),
        "not someone else's"
    );
    assert!(!s.delete_saved_search(&b, &ana.id, "s1").await.unwrap());
    assert!(s.delete_saved_search(&a, &ana.id, "s1").await.unwrap());
    assert_eq!(s.saved_searches(&a, &ana.id).await.unwrap().len(), 1);
    for i in 0..MAX_SAVED_SEARCHES - 1 {
        let id = format!("m{i}");
        assert!(s.save_search(&a, &search(&id, &zoe.id, &id)).await.unwrap());
    }
    assert!(
        !s.save_search(&a, &search("over", &zoe.id, "over"))
            .await
            .unwrap(),
        "at most MAX_SAVED_SEARCHES"
    );
    assert_eq!(
        s.saved_searches(&a, &zoe.id).await.unwrap().len(),
        MAX_SAVED_SEARCHES
    );
}

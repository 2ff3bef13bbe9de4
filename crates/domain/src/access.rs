//! Who may do what: the one authorisation matrix of Sealbook.
//!
//! Every request, whether it comes with an API key, a signed-in person's session, an embedded
//! viewer token or a platform operator's audited access to a tenant, is turned into a [`Grant`],
//! and every handler asks [`allows`] (through [`Grant::require`]) whether that grant may perform
//! one [`Action`]. No other code decides a permission: the API and the UI share this function, and
//! `docs/security/roles.md` prints its table ([`matrix_markdown`], kept equal by a test).
//!
//! The tenant a grant acts on is never part of the grant's decision here: it comes from
//! authentication (the key's tenant, the person's tenant, the token's tenant, the operator's
//! access grant) and the caller MUST scope every read and write to it.

use crate::Scope;
use std::fmt;
use std::str::FromStr;

/// A person's role within one tenant (or, for [`Role::Operator`], on the platform).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// `tenant_admin`: everything in the tenant, people and keys included.
    TenantAdmin,
    /// `compliance_officer`: search, export, verify, reports.
    ComplianceOfficer,
    /// `auditor`: search and verify; no export, personal values masked.
    Auditor,
    /// `support`: search (personal values shown, so an override can be traced to a person); no
    /// export.
    Support,
    /// `viewer`: search limited to the event types the tenant allows viewers; personal values
    /// masked.
    Viewer,
    /// `operator`: a platform operator. Sees no tenant's events, except through an explicit,
    /// audited, time-bounded access to one tenant ([`Grant::OperatorAccess`]).
    Operator,
}

impl Role {
    /// Every role, in a stable order (the order of the documented table).
    pub const ALL: [Role; 6] = [
        Role::TenantAdmin,
        Role::ComplianceOfficer,
        Role::Auditor,
        Role::Support,
        Role::Viewer,
        Role::Operator,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::TenantAdmin => "tenant_admin",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Auditor => "auditor",
            Role::Support => "support",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }

    /// A human label, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::TenantAdmin => "Tenant admin",
            Role::ComplianceOfficer => "Compliance officer",
            Role::Auditor => "Auditor",
            Role::Support => "Support",
            Role::Viewer => "Viewer",
            Role::Operator => "Platform operator",
        }
    }

    /// True for the roles a person of a tenant can hold (every role but [`Role::Operator`], which
    /// only people of the platform hold).
    pub fn is_tenant_role(self) -> bool {
        self != Role::Operator
    }
}

/// A role name that Sealbook does not know.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role {0:?}; known roles are tenant_admin, compliance_officer, auditor, support, viewer, operator")]
pub struct RoleError(pub String);

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Role, RoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| RoleError(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a request may do within a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Send events (`POST /v1/events`).
    WriteEvents,
    /// Search events, read one, a subject's history, a correlation timeline.
    SearchEvents,
    /// See personal values (names, e-mail addresses, …) in the clear; without it they are masked.
    ViewPersonal,
    /// Read the verifiable log: checkpoints, tiles, entry bundles, proofs, verifier keys.
    VerifyLog,
    /// Read the event catalog.
    ReadCatalog,
    /// Export events (CSV, JSON lines).
    ExportEvents,
    /// Read the personal values with their salts (`/v1/log/personal/…`): a bulk export.
    ReadPersonalBundles,
    /// Change the tenant's catalog.
    ChangeCatalog,
    /// Ask whether a redacted value was a candidate (`POST /v1/redactions/match`).
    MatchRedaction,
    /// See redaction fingerprints.
    SeeFingerprints,
    /// Invite people, change their roles, deactivate them.
    ManagePeople,
    /// Create and revoke the tenant's API keys.
    ManageKeys,
    /// Change the tenant's settings (sign-in, record links, viewer and embedding rules).
    ManageSettings,
    /// Mint embeddable viewer tokens.
    MintViewerTokens,
    /// Read compliance reports.
    ViewReports,
    /// List the platform's tenants and open an audited, time-bounded access to one (platform
    /// operators only; what the access then allows is [`Grant::OperatorAccess`]'s).
    AccessTenants,
}

impl Action {
    /// Every action, in a stable order (the order of the documented table).
    pub const ALL: [Action; 16] = [
        Action::SearchEvents,
        Action::ViewPersonal,
        Action::VerifyLog,
        Action::ReadCatalog,
        Action::ExportEvents,
        Action::ReadPersonalBundles,
        Action::ViewReports,
        Action::WriteEvents,
        Action::ChangeCatalog,
        Action::MatchRedaction,
        Action::SeeFingerprints,
        Action::ManagePeople,
        Action::ManageKeys,
        Action::ManageSettings,
        Action::MintViewerTokens,
        Action::AccessTenants,
    ];

    /// A short description, for the documented table and for 403 answers.
    pub fn describe(self) -> &'static str {
        match self {
            Action::WriteEvents => "send events",
            Action::SearchEvents => "search and read events",
            Action::ViewPersonal => "see personal values unmasked",
            Action::VerifyLog => "read the verifiable log and proofs",
            Action::ReadCatalog => "read the event catalog",
            Action::ExportEvents => "export events (CSV, JSON lines)",
            Action::ReadPersonalBundles => "read personal values with their salts",
            Action::ChangeCatalog => "change the tenant's catalog",
            Action::MatchRedaction => "test a candidate against a redacted value",
            Action::SeeFingerprints => "see redaction fingerprints",
            Action::ManagePeople => "manage people and roles",
            Action::ManageKeys => "create and revoke API keys",
            Action::ManageSettings => "change the tenant's settings",
            Action::MintViewerTokens => "mint embeddable viewer tokens",
            Action::ViewReports => "read compliance reports",
            Action::AccessTenants => "open an audited access to a tenant",
        }
    }

    /// The API key scope that grants this action, if a key can be granted it at all.
    pub fn scope(self) -> Option<Scope> {
        Some(match self {
            Action::WriteEvents => Scope::EventsWrite,
            Action::SearchEvents
            | Action::ViewPersonal
            | Action::VerifyLog
            | Action::ReadCatalog => Scope::EventsRead,
            Action::ExportEvents | Action::ReadPersonalBundles => Scope::EventsExport,
            Action::ChangeCatalog
            | Action::MatchRedaction
            | Action::SeeFingerprints
            | Action::ManagePeople
            | Action::ManageKeys
            | Action::ManageSettings
            | Action::MintViewerTokens => Scope::TenantAdmin,
            Action::ViewReports | Action::AccessTenants => return None,
        })
    }
}

/// What a request was granted by its authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// An API key with these scopes.
    Key(Vec<Scope>),
    /// A signed-in person with this role.
    Person(Role),
    /// An embedded viewer token: read-only search within the token's limits.
    ViewerToken,
    /// A platform operator inside an audited, time-bounded access to one tenant: read-only.
    OperatorAccess,
}

/// An action the grant does not allow: answered 403, naming the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this credential may not {}", .0.describe())]
pub struct Denied(pub Action);

/// The matrix: whether `grant` may perform `action`. The one function that decides.
pub fn allows(grant: &Grant, action: Action) -> bool {
    use Action as A;
    match grant {
        Grant::Key(scopes) => action.scope().is_some_and(|s| scopes.contains(&s)),
        Grant::Person(role) => match role {
            // Everything in the tenant but sending events, which is for applications (and
            // the platform's access to tenants, which is for operators).
            Role::TenantAdmin => !matches!(action, A::WriteEvents | A::AccessTenants),
            Role::ComplianceOfficer => matches!(
                action,
                A::SearchEvents
                    | A::ViewPersonal
                    | A::VerifyLog
                    | A::ReadCatalog
                    | A::ExportEvents
                    | A::ReadPersonalBundles
                    | A::ViewReports
            ),
            Role::Auditor => matches!(action, A::SearchEvents | A::VerifyLog | A::ReadCatalog),
            Role::Support => matches!(action, A::SearchEvents | A::ViewPersonal | A::ReadCatalog),
            Role::Viewer => matches!(action, A::SearchEvents | A::ReadCatalog),
            // Outside an access grant an operator holds nothing in any tenant: only the step
            // that opens one.
            Role::Operator => action == A::AccessTenants,
        },
        Grant::ViewerToken => matches!(action, A::SearchEvents),
        Grant::OperatorAccess => matches!(action, A::SearchEvents | A::VerifyLog | A::ReadCatalog),
    }
}

impl Grant {
    /// `Ok` if [`allows`], otherwise the [`Denied`] to answer.
    pub fn require(&self, action: Action) -> Result<(), Denied> {
        if allows(self, action) {
            Ok(())
        } else {
            Err(Denied(action))
        }
    }

    /// Shorthand for `allows(self, action)`.
    pub fn may(&self, action: Action) -> bool {
        allows(self, action)
    }
}

/// The matrix for people as a Markdown table (one row per action, one column per role), as
/// `docs/security/roles.md` prints it.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| action |");
    for r in Role::ALL {
        out.push_str(&format!(" `{r}` |"));
    }
    out.push_str(" key scope |\n|---|");
    for _ in Role::ALL {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for a in Action::ALL {
        out.push_str(&format!("| {} |", a.describe()));
        for r in Role::ALL {
            out.push_str(if allows(&Grant::Person(r), a) {
                " yes |"
            } else {
                " — |"
            });
        }
        match a.scope() {
            Some(s) => out.push_str(&format!(" `{s}` |\n")),
            None => out.push_str(" none |\n"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }

    /// The words, as a table: every role against every action.
    #[test]
    fn the_matrix_is_what_the_roles_promise() {
        use Action as A;
        let expect = |role: Role, allowed: &[Action]| {
            for a in Action::ALL {
                assert_eq!(
                    allows(&Grant::Person(role), a),
                    allowed.contains(&a),
                    "{role} / {a:?}"
                );
            }
        };
        let all_but_write: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|a| !matches!(a, A::WriteEvents | A::AccessTenants))
            .collect();
        expect(Role::TenantAdmin, &all_but_write);
        expect(
            Role::ComplianceOfficer,
            &[
                A::SearchEvents,
                A::ViewPersonal,
                A::VerifyLog,
                A::ReadCatalog,
                A::ExportEvents,
                A::ReadPersonalBundles,
                A::ViewReports,
            ],
        );
        expect(
            Role::Auditor,
            &[A::SearchEvents, A::VerifyLog, A::ReadCatalog],
        );
        expect(
            Role::Support,
            &[A::SearchEvents, A::ViewPersonal, A::ReadCatalog],
        );
        expect(Role::Viewer, &[A::SearchEvents, A::ReadCatalog]);
        expect(Role::Operator, &[A::AccessTenants]);
    }

    /// `docs/security/roles.md` prints exactly this matrix.
    #[test]
    fn the_roles_doc_prints_the_matrix() {
        let doc = include_str!("../../../docs/security/roles.md");
        let table = matrix_markdown();
        assert!(
            doc.contains(&table),
            "docs/security/roles.md must hold the matrix as matrix_markdown() prints it:\n{table}"
        );
    }

    #[test]
    fn keys_keep_their_scopes() {
        let read = Grant::Key(vec![Scope::EventsRead]);
        assert!(read.may(Action::SearchEvents) && read.may(Action::VerifyLog));
        assert!(!read.may(Action::ExportEvents) && !read.may(Action::WriteEvents));
        let export = Grant::Key(vec![Scope::EventsExport]);
        assert!(export.may(Action::ExportEvents) && !export.may(Action::SearchEvents));
        let admin = Grant::Key(vec![Scope::TenantAdmin]);
        assert!(admin.may(Action::ChangeCatalog) && !admin.may(Action::SearchEvents));
        assert!(!Grant::Key(Scope::ALL.to_vec()).may(Action::ViewReports));
    }

    #[test]
    fn embedded_and_operator_access_are_read_only() {
        for a in Action::ALL {
            assert_eq!(Grant::ViewerToken.may(a), a == Action::SearchEvents);
            assert_eq!(
                Grant::OperatorAccess.may(a),
                matches!(
                    a,
                    Action::SearchEvents | Action::VerifyLog | Action::ReadCatalog
                )
            );
        }
        assert_eq!(
            Grant::OperatorAccess.require(Action::ExportEvents),
            Err(Denied(Action::ExportEvents))
        );
    }
}

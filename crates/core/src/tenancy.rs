//! Who owns what and who may do what: tenants (merchant companies), their brands and stores,
//! staff accounts, API keys, and the actor recorded on every change.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

/// A merchant company. Everything else belongs to exactly one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenant {
    pub id: crate::id::TenantId,
    pub name: String,
    /// IANA zone for days, birthdays and reports; `Asia/Ho_Chi_Minh` unless chosen otherwise.
    pub timezone: String,
    pub currency: String,
    pub created_at: Timestamp,
}

pub const DEFAULT_TIMEZONE: &str = "Asia/Ho_Chi_Minh";
pub const DEFAULT_CURRENCY: &str = "VND";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Brand {
    pub id: String,
    pub code: String,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A shop or branch (cửa hàng / chi nhánh).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Store {
    pub id: String,
    pub code: String,
    pub name: String,
    pub brand_id: Option<String>,
    /// The brand's code, read with the store.
    pub brand: Option<String>,
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Marketer,
    Cashier,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Manager,
        Role::Marketer,
        Role::Cashier,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Marketer => "marketer",
            Role::Cashier => "cashier",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The API scopes a signed-in staff member acts with. A marketer needs `admin` for segments
    /// and campaigns; what else each role may touch is narrowed by [`Role::may`].
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Role::Owner | Role::Manager | Role::Marketer => vec![Scope::Admin],
            Role::Cashier => vec![Scope::Pos],
            Role::Viewer => vec![Scope::Read],
        }
    }

    /// What each role may do in the admin UI.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            Role::Manager => !matches!(permission, ManageStaff),
            Role::Marketer => matches!(permission, ViewReports | ViewMembers | EditSegments),
            Role::Cashier => matches!(permission, ViewMembers | EditMembers),
            Role::Viewer => matches!(permission, ViewReports | ViewMembers),
        }
    }
}

/// A thing a staff member may be allowed to do in the admin UI (see [`Role::may`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The dashboard and reports.
    ViewReports,
    /// Member lists and profiles, saved segments (read only).
    ViewMembers,
    /// Creating and editing members (the counter's job).
    EditMembers,
    /// Adjusting a member's points by hand.
    AdjustPoints,
    /// The program: settings, tiers, rules, vouchers, rewards.
    EditProgram,
    /// Building and saving segments, exporting members.
    EditSegments,
    /// Staff accounts and API keys.
    ManageStaff,
    /// The activity log: who changed what.
    ViewActivity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaffUser {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub active: bool,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// What an API key may do. `admin` may do everything; `pos` runs the till (members, orders,
/// vouchers) and reads; `read` only reads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Admin,
    Pos,
    Read,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Pos => "pos",
            Scope::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "admin" => Some(Scope::Admin),
            "pos" => Some(Scope::Pos),
            "read" => Some(Scope::Read),
            _ => None,
        }
    }
}

/// The access an operation needs. Each scope grants a set of them (see [`grants`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading members, orders, settings, reports.
    Read,
    /// What a till does: create and update customers, post orders, use vouchers.
    Pos,
    /// Configuration: program, keys, staff, stores.
    Admin,
}

/// Whether a key with `scopes` may perform an operation needing `access`.
pub fn grants(scopes: &[Scope], access: Access) -> bool {
    scopes.iter().any(|scope| {
        matches!(
            (scope, access),
            (Scope::Admin, _)
                | (Scope::Pos, Access::Read | Access::Pos)
                | (Scope::Read, Access::Read)
        )
    })
}

/// An API key as stored: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: crate::id::KeyId,
    pub name: String,
    /// The public part of the key, shown in lists so people can tell keys apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Requests per second this key may make; `None`: the server's default.
    pub rate_limit_per_s: Option<i64>,
}

/// Who made a change, as the activity log records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Staff,
    ApiKey,
    /// Background jobs (expiry, tier reviews).
    System,
    /// The `loyalty` command line, run by whoever has the server's shell.
    Cli,
    /// A member signed in to the member portal, acting for themselves only.
    Member,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Staff => "staff",
            ActorKind::ApiKey => "api_key",
            ActorKind::System => "system",
            ActorKind::Cli => "cli",
            ActorKind::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        match s {
            "staff" => Some(ActorKind::Staff),
            "api_key" => Some(ActorKind::ApiKey),
            "system" => Some(ActorKind::System),
            "cli" => Some(ActorKind::Cli),
            "member" => Some(ActorKind::Member),
            _ => None,
        }
    }
}

impl Actor {
    pub fn system(job: &str) -> Actor {
        Actor {
            kind: ActorKind::System,
            id: None,
            name: Some(job.to_string()),
        }
    }

    pub fn cli() -> Actor {
        Actor {
            kind: ActorKind::Cli,
            id: None,
            name: Some("loyalty cli".into()),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.kind.as_str(),
            self.id.as_deref().unwrap_or("-")
        )
    }
}

/// A short code of a brand or store (`HN01`, `cafe`): letters, digits, `-` and `_`, as a POS
/// sends it in every order.
pub fn check_code(code: &str) -> Result<String, CodeError> {
    let code = code.trim();
    if code.is_empty() || code.len() > MAX_CODE_CHARS {
        return Err(CodeError::Length);
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(CodeError::Characters);
    }
    Ok(code.to_string())
}

const MAX_CODE_CHARS: usize = 50;

/// Why a brand or store code is refused: its length (`length`, 1 to 50) or a character
/// outside A–Z, digits, `-`, `_` and `.` (`code.characters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("must have 1 to {MAX_CODE_CHARS} characters")]
    Length,
    #[error("may contain only letters A–Z, digits, '-', '_' and '.'")]
    Characters,
}

impl crate::error::Coded for CodeError {
    fn code(&self) -> &'static str {
        match self {
            CodeError::Length => "length",
            CodeError::Characters => "code.characters",
        }
    }

    fn bounds(&self) -> Option<(i64, i64)> {
        match self {
            CodeError::Length => Some((1, MAX_CODE_CHARS as i64)),
            CodeError::Characters => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_error_has_a_code_and_a_length_error_its_bounds() {
        let mut errors = crate::Invalid::default();
        errors.check("code", check_code(""));
        errors.check("code", check_code("Hà Nội"));
        let (length, characters) = (&errors.0[0], &errors.0[1]);
        assert_eq!(length.code, "length");
        assert_eq!(
            length.bounds,
            Some(crate::error::Bounds { min: 1, max: 50 })
        );
        assert_eq!(length.message, "must have 1 to 50 characters");
        assert_eq!(characters.code, "code.characters");
        assert_eq!(characters.bounds, None);
    }

    #[test]
    fn scopes_grant_what_their_names_say() {
        assert!(grants(&[Scope::Admin], Access::Admin));
        assert!(grants(&[Scope::Pos], Access::Pos));
        assert!(grants(&[Scope::Pos], Access::Read));
        assert!(!grants(&[Scope::Pos], Access::Admin));
        assert!(grants(&[Scope::Read], Access::Read));
        assert!(!grants(&[Scope::Read], Access::Pos));
        assert!(!grants(&[], Access::Read));
    }

    #[test]
    fn roles_narrow_what_staff_may_do() {
        use Permission::*;
        assert!(Role::Owner.may(ManageStaff));
        assert!(Role::Manager.may(ViewActivity) && !Role::Marketer.may(ViewActivity));
        assert!(!Role::Manager.may(ManageStaff) && Role::Manager.may(EditProgram));
        assert!(Role::Marketer.may(EditSegments) && !Role::Marketer.may(EditProgram));
        assert!(Role::Cashier.may(EditMembers) && !Role::Cashier.may(ViewReports));
        assert!(Role::Viewer.may(ViewMembers) && !Role::Viewer.may(EditMembers));
        // Whatever the UI allows, the scopes behind it must allow too.
        assert!(grants(&Role::Cashier.scopes(), Access::Pos));
        assert!(!grants(&Role::Viewer.scopes(), Access::Pos));
    }

    #[test]
    fn codes_are_plain_ascii() {
        assert_eq!(check_code(" HN01 "), Ok("HN01".into()));
        assert!(check_code("Hà Nội").is_err());
        assert!(check_code("").is_err());
    }
}

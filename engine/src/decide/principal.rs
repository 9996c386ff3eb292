//! Steps 4-5: who the caller is, from a verified token or a subject reference, and the
//! principal checks of SPEC 2.5.

use std::borrow::Cow;

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::small::Small;
use super::{Engine, Principal};
use crate::bundle::{Admitted, CredentialState, LoadedTenant, SubjectCode, Tables};
use crate::cache::{Scope, Window};
use crate::credential::{ApiKey, KeyId};
use crate::jwt::{self, Signature, Strings, Token, Validation};
use crate::model::{
    IdentityProvider, IdpId, Jwk, ResolveTo, RoleId, TenantConfig, UserId, VirtualAccountId,
    TENANT_MEMBER,
};
use crate::reason::Reason;

impl Engine {
    /// Steps 4-5 for a token; also the time window in which the same token gets the same answer.
    /// With [`Signature::Verified`] (a token the cache holds under this tenant's [`Scope`]) the
    /// signature is not computed again; every other check runs against this bundle.
    pub(super) fn authenticate(
        &self,
        tenant: &LoadedTenant,
        tables: &Tables<'_>,
        raw: &str,
        now: i64,
        signature: Signature,
    ) -> Result<(Caller, Window, Cached), Reason> {
        let token = Token::parse(raw)?;
        let issuer = token.issuer()?.ok_or(Reason::IssuerUnknown)?;
        let config = &tenant.config;
        let skew = i64::from(config.clock_skew_seconds);
        let idp = if issuer == config.issuer {
            None
        } else if let Some(i) = config
            .identity_providers
            .iter()
            .position(|p| p.issuer == issuer)
        {
            Some(i)
        } else if self.bundle.tenants().iter().any(|t| {
            t.config.issuer == issuer
                || t.config
                    .identity_providers
                    .iter()
                    .any(|p| p.issuer == issuer)
        }) {
            return Err(Reason::TenantMismatch);
        } else {
            return Err(Reason::IssuerUnknown);
        };
        let provider = match idp {
            None => None,
            Some(i) => {
                let provider = config
                    .identity_providers
                    .get(i)
                    .ok_or(Reason::IssuerUnknown)?;
                let index = IdpId(u32::try_from(i).map_err(|_| Reason::IssuerUnknown)?);
                let keys = tenant.idp_keys.get(i).ok_or(Reason::KeyUnknown)?;
                Some((provider, index, keys))
            }
        };

        let (keys, algorithms, audiences) = match provider {
            None => (&tenant.keys, &[][..], &config.audiences),
            Some((provider, _, keys)) => {
                (keys, provider.algorithms.as_slice(), &provider.audiences)
            }
        };
        jwt::check(
            &token,
            &Validation {
                keys,
                algorithms,
                audiences,
                clock_skew_seconds: skew,
                now,
            },
            signature,
        )?;
        // `verify` checked the registered claims' types (`jti`, `sub`, the times...); the claims
        // this kind of issuer is read for are typed here, all before any of them is used.
        let claims = token.claims();
        let registered = claims.registered(skew)?;
        let says = match provider {
            None => Says::ControlPlane {
                tenant: claims.string("tenant")?,
                subject: registered.subject,
            },
            Some((provider, idp, _)) => match &provider.resolve_to {
                ResolveTo::User {
                    email_claim,
                    team_claim,
                    require_email_verified,
                } => Says::User {
                    idp,
                    email_verified: claims.boolean("email_verified")?,
                    require_email_verified: *require_email_verified,
                    email: claims.string(email_claim.as_slice())?,
                    teams: match team_claim {
                        Some(claim) => claims.strings(claim.as_slice())?,
                        None => None,
                    },
                },
                ResolveTo::VirtualAccount {
                    virtual_account_claim,
                } => Says::VirtualAccount {
                    idp,
                    value: claims.string(virtual_account_claim.as_slice())?,
                },
            },
        };

        if let Some(jti) = registered.id {
            if config
                .revoked_token_ids
                .binary_search_by(|r| r.as_str().cmp(jti))
                .is_ok()
            {
                return Err(Reason::TokenRevoked);
            }
        }

        let (caller, mapped) = match says {
            Says::ControlPlane {
                tenant: named,
                subject,
            } => {
                if named != Some(config.name.as_str()) {
                    return Err(Reason::TenantMismatch);
                }
                let subject = subject.ok_or(Reason::PrincipalUnknown)?;
                let mut caller = self.resolve_subject(tenant, tables, subject, now)?;
                if caller.just_in_time.is_some() {
                    join_claimed_teams(tables, &mut caller, claims.strings("teams")?);
                }
                (caller, Vec::new())
            }
            Says::User {
                idp,
                email_verified,
                require_email_verified,
                email,
                teams,
            } => {
                // An address the provider has not verified names no one: anyone can put someone
                // else's address on an unverified account.
                match email_verified {
                    Some(true) => {}
                    None if !require_email_verified => {}
                    _ => return Err(Reason::PrincipalUnknown),
                }
                let email = email.ok_or(Reason::PrincipalUnknown)?;
                let mut caller = user_caller(tables, &ascii_lowercase(email))?;
                let mut mapped = Vec::new();
                if let Some(values) = teams {
                    for value in values.iter() {
                        mapped.extend(tables.mapped_teams(idp, value).map(SubjectCode::team));
                    }
                    caller.subjects.extend(mapped.iter().copied());
                    caller.normalize();
                }
                (caller, mapped)
            }
            Says::VirtualAccount { idp, value } => {
                let value = value.ok_or(Reason::PrincipalUnknown)?;
                let va = tables
                    .mapped_virtual_account(idp, value)
                    .ok_or(Reason::PrincipalUnknown)?;
                (Caller::virtual_account(va), Vec::new())
            }
        };
        check_principal(tables, &caller, now)?;
        let mut window = registered.window;
        if let Principal::VirtualAccount(i) = caller.principal {
            let va = tables
                .virtual_accounts
                .get(i.index())
                .ok_or(Reason::PrincipalUnknown)?;
            match va.token_admitted(window.iat, now) {
                Admitted::Yes => {}
                // Admitted until the grace ends: the cache must not keep it longer. `exp` is
                // read with the skew added; the grace is not.
                Admitted::Until(end) => {
                    window.exp = window.exp.min(end.saturating_sub(window.skew));
                }
                Admitted::No => return Err(Reason::TokenRevoked),
            }
        }
        // The window `verify` checked, and what to remember, for the cache.
        let cached = Cached {
            generation: self.generation,
            principal: caller.principal,
            mapped: mapped.into_boxed_slice(),
        };
        Ok((caller, window, cached))
    }

    /// Steps 4-5 for an API key (SPEC 2.7): shape and checksum, the key of that id in this
    /// tenant, its digest compared in constant time, then revocation, expiry and the principal.
    /// Keys are not cached: a lookup and one SHA-256 block cost less than the cache's hash of a
    /// JWT.
    pub(super) fn key_caller(
        &self,
        tables: &Tables<'_>,
        presented: &str,
        now: i64,
    ) -> Result<Caller, Reason> {
        let key = ApiKey::parse(presented).map_err(|_| Reason::TokenMalformed)?;
        let Some(record) = tables.credential(key.id.0) else {
            let elsewhere = self
                .bundle
                .tenants()
                .iter()
                .any(|t| self.bundle.tables(t).credential(key.id.0).is_some());
            return Err(if elsewhere {
                Reason::TenantMismatch
            } else {
                Reason::CredentialUnknown
            });
        };
        let digest = key.digest();
        let matches = digest
            .get(..record.digest.len())
            .is_some_and(|d| bool::from(d.ct_eq(&record.digest)));
        if !matches {
            return Err(Reason::SignatureInvalid);
        }
        credential_caller(tables, record, key.id, now)
    }

    /// A subject reference (`user:<email>`, `virtualaccount:<name>`) to a caller, with the
    /// principal checks of 2.5.
    ///
    /// In a tenant with `jit_domains`, a `user:` the bundle does not list whose email domain is
    /// one of them is a [`Principal::JustInTime`] member. Only subjects the control plane names
    /// (its tokens' `sub`, or `--as` offline) come here: identity-provider tokens never create
    /// users.
    pub(super) fn resolve_subject(
        &self,
        tenant: &LoadedTenant,
        tables: &Tables<'_>,
        subject: &str,
        now: i64,
    ) -> Result<Caller, Reason> {
        let caller = if let Some(email) = subject.strip_prefix("user:") {
            let email = ascii_lowercase(email);
            match user_caller(tables, &email) {
                Err(Reason::PrincipalUnknown) => just_in_time_caller(tenant, &email)?,
                found => found?,
            }
        } else if let Some(name) = subject.strip_prefix("virtualaccount:") {
            let (i, _) = tables
                .virtual_account(name)
                .ok_or(Reason::PrincipalUnknown)?;
            Caller::virtual_account(i)
        } else {
            return Err(Reason::PrincipalUnknown);
        };
        check_principal(tables, &caller, now)?;
        Ok(caller)
    }
}

/// What a verified token says about its caller, every claim already of its one accepted type.
enum Says<'c> {
    /// `tenant` and `sub` (SPEC 3.1 step 5).
    ControlPlane {
        tenant: Option<&'c str>,
        subject: Option<&'c str>,
    },
    /// An identity provider's token for a user: `email_verified`, the `email_claim` value and
    /// the `team_claim` values.
    User {
        idp: IdpId,
        email_verified: Option<bool>,
        require_email_verified: bool,
        email: Option<&'c str>,
        teams: Option<Strings<'c>>,
    },
    /// An identity provider's token for a virtual account: the `virtual_account_claim` value.
    VirtualAccount { idp: IdpId, value: Option<&'c str> },
}

/// An email as the user table stores it: ASCII letters lowercased, everything else exactly as
/// given. Full Unicode lowercasing would let `\u{212A}ira@acme.com` (Kelvin sign) name
/// `kira@acme.com`; no mail system treats those as one mailbox. Borrows when nothing changes
/// (the usual case: emails are stored lowercased and usually sent that way).
pub(crate) fn ascii_lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The caller and every subject it acts as (itself, its teams, `team:everyone`), sorted.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    pub(crate) subjects: Small<SubjectCode, 12>,
    /// Who a [`Principal::JustInTime`] caller is.
    pub(crate) just_in_time: Option<Box<JustInTimeMember>>,
    /// The API key the caller presented, when it did (SPEC 2.7).
    pub(crate) credential: Option<CallerCredential>,
}

/// The API key a caller authenticated with: its id (for `x-gatehouse-credential`) and the scope
/// that narrows what it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallerCredential {
    pub(crate) id: KeyId,
    /// Index into `credential_scopes`; `None`: the principal's whole access.
    pub(crate) scope: Option<u32>,
}

/// A user a `provisioning: jit` tenant admits at first login: their email (lowercased) and the
/// tenant-member role they hold.
#[derive(Debug, Clone)]
pub(crate) struct JustInTimeMember {
    pub(crate) email: Box<str>,
    pub(crate) role: RoleId,
}

/// `email` as a just-in-time member of `tenant`: `principal_unknown` unless the tenant has
/// `jit_domains` and the part after the email's last `@` is one of them (ASCII case folded; the
/// local part must not be empty).
pub(crate) fn just_in_time_caller(tenant: &LoadedTenant, email: &str) -> Result<Caller, Reason> {
    let config = &tenant.config;
    let domain = match email.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => domain,
        _ => return Err(Reason::PrincipalUnknown),
    };
    if config
        .jit_domains
        .binary_search_by(|d| d.as_str().cmp(domain))
        .is_err()
    {
        return Err(Reason::PrincipalUnknown);
    }
    just_in_time_member(tenant, email.into()).ok_or(Reason::PrincipalUnknown)
}

/// A just-in-time member's teams from the control plane's `teams` claim (a string or an array of
/// strings; read only for such a member): each names a team of the tenant, and only teams that
/// give no tenant-level role count, so the member holds no role but tenant-member (SPEC 2.6).
/// Unknown names are ignored, as a team claim's unmapped values are.
fn join_claimed_teams(tables: &Tables<'_>, caller: &mut Caller, teams: Option<Strings<'_>>) {
    let Some(teams) = teams else {
        return;
    };
    for name in teams.iter() {
        if let Some((team, _)) = tables.team(name) {
            if tables.roles_of(team).next().is_none() {
                caller.subjects.push(SubjectCode::team(team));
            }
        }
    }
    caller.normalize();
}

/// The caller a just-in-time member `email` is: `team:everyone` with the tenant-member role.
/// `None` if the tenant has no such role (every compiled tenant has it).
pub(crate) fn just_in_time_member(tenant: &LoadedTenant, email: Box<str>) -> Option<Caller> {
    let role = tenant
        .config
        .roles
        .iter()
        .position(|r| r.name == TENANT_MEMBER)
        .and_then(|i| u32::try_from(i).ok())?;
    let mut subjects = Small::new();
    subjects.push(SubjectCode::EVERYONE);
    Some(Caller {
        principal: Principal::JustInTime,
        subjects,
        credential: None,
        just_in_time: Some(Box::new(JustInTimeMember {
            email,
            role: RoleId(role),
        })),
    })
}

/// What the verified-token cache keeps of a caller: the principal, and the teams the token's
/// claims mapped it into (usually none, so nothing is allocated). The rest of the caller is the
/// bundle's, rebuilt on a hit ([`Caller::from_cached`]), which keeps an entry small.
///
/// Both are indexes into the bundle of the engine that resolved them, `generation`: only that
/// engine uses them. Another engine sharing the cache (a later bundle) resolves the token again
/// against its own bundle, without the signature ([`Signature::Verified`]), and stores its own.
#[derive(Debug)]
pub(crate) struct Cached {
    generation: u32,
    principal: Principal,
    mapped: Box<[SubjectCode]>,
}

impl Cached {
    /// Whether an engine of this generation resolved it (its indexes are into that bundle).
    pub(super) fn resolved_by(&self, generation: u32) -> bool {
        self.generation == generation
    }
}

/// The [`Scope`] of a tenant's tokens: a digest of every setting verifying one reads, so that
/// a cached signature is used only where it would verify again with the same result. `None`
/// (tokens of this tenant are not cached) only if the settings cannot be serialized.
///
/// Not in it, because they are checked again on every use of a cached token: the revoked `jti`s,
/// users, teams and virtual accounts (the tables), and the time (the window). Nor hosts, roles or
/// actions, which verification does not read. The destructuring names every field, so a new one
/// must be sorted into one side or the other.
pub(super) fn scope_of(config: &TenantConfig) -> Option<Scope> {
    #[derive(Serialize)]
    struct Verifying<'a> {
        what: &'static str,
        name: &'a str,
        issuer: &'a str,
        keys: &'a [Jwk],
        audiences: &'a [String],
        clock_skew_seconds: u32,
        identity_providers: &'a [IdentityProvider],
    }
    let TenantConfig {
        name,
        hosts: _,
        issuer,
        keys,
        audiences,
        clock_skew_seconds,
        revoked_token_ids: _,
        identity_providers,
        actions: _,
        resource_types: _,
        roles: _,
        jit_domains: _,
        credential_scopes: _,
    } = config;
    let bytes = postcard::to_allocvec(&Verifying {
        what: "gatehouse verified-token scope 1",
        name,
        issuer,
        keys,
        audiences,
        clock_skew_seconds: *clock_skew_seconds,
        identity_providers,
    })
    .ok()?;
    Some(Scope(Sha256::digest(&bytes).into()))
}

impl Caller {
    /// The caller a principal of the tenant stands for when named directly (`--as`): itself, its
    /// stored teams and, for users, `team:everyone`; for [`Principal::JustInTime`], any
    /// just-in-time member (the analyses ask what the class may do, not who). `None` if there is
    /// no such record.
    #[cfg(feature = "analysis")]
    pub(crate) fn of(
        tenant: &LoadedTenant,
        tables: &Tables<'_>,
        principal: Principal,
    ) -> Option<Caller> {
        match principal {
            Principal::User(id) => {
                tables.users.get(id.index())?;
                Some(user_caller_of(tables, id))
            }
            Principal::VirtualAccount(id) => {
                tables.virtual_accounts.get(id.index())?;
                Some(Caller::virtual_account(id))
            }
            Principal::JustInTime if !tenant.config.jit_domains.is_empty() => {
                just_in_time_member(tenant, Box::from(""))
            }
            Principal::JustInTime => None,
        }
    }

    /// The caller a cached token stands for: the same one `authenticate` built.
    pub(super) fn from_cached(tables: &Tables<'_>, cached: &Cached) -> Result<Caller, Reason> {
        let mut caller = match cached.principal {
            Principal::User(id) => {
                tables
                    .users
                    .get(id.index())
                    .ok_or(Reason::PrincipalUnknown)?;
                user_caller_of(tables, id)
            }
            Principal::VirtualAccount(id) => Caller::virtual_account(id),
            // Never cached: the entry would not say who.
            Principal::JustInTime => return Err(Reason::PrincipalUnknown),
        };
        if !cached.mapped.is_empty() {
            caller.subjects.extend(cached.mapped.iter().copied());
            caller.normalize();
        }
        Ok(caller)
    }

    fn virtual_account(id: VirtualAccountId) -> Caller {
        Caller {
            just_in_time: None,
            credential: None,
            principal: Principal::VirtualAccount(id),
            subjects: {
                let mut s = Small::new();
                s.push(SubjectCode::virtual_account(id));
                s
            },
        }
    }

    fn normalize(&mut self) {
        // Usually already so (user code < team codes, sorted at load, < everyone): skip the sort.
        if self
            .subjects
            .windows(2)
            .all(|w| matches!(w, [a, b] if a < b))
        {
            return;
        }
        self.subjects.sort_unstable();
        let mut kept: usize = 0;
        for i in 0..self.subjects.len() {
            let (Some(&v), prev) = (self.subjects.get(i), kept.checked_sub(1)) else {
                break;
            };
            if prev.and_then(|p| self.subjects.get(p)) != Some(&v) {
                if let Some(slot) = self.subjects.get_mut(kept) {
                    *slot = v;
                }
                kept += 1;
            }
        }
        self.subjects.truncate(kept);
    }
}

pub(super) fn user_caller(tables: &Tables<'_>, email: &str) -> Result<Caller, Reason> {
    let (id, _) = tables.user(email).ok_or(Reason::PrincipalUnknown)?;
    Ok(user_caller_of(tables, id))
}

fn user_caller_of(tables: &Tables<'_>, id: UserId) -> Caller {
    let mut subjects = Small::new();
    subjects.push(SubjectCode::user(id));
    subjects.extend(tables.teams_of(id).map(SubjectCode::team));
    subjects.push(SubjectCode::EVERYONE);
    let mut caller = Caller {
        just_in_time: None,
        credential: None,
        principal: Principal::User(id),
        subjects,
    };
    caller.normalize();
    caller
}

pub(crate) fn check_principal(
    tables: &Tables<'_>,
    caller: &Caller,
    now: i64,
) -> Result<(), Reason> {
    match caller.principal {
        Principal::User(i) => {
            let user = tables
                .users
                .get(i.index())
                .ok_or(Reason::PrincipalUnknown)?;
            if !user.is_active() {
                return Err(Reason::PrincipalInactive);
            }
        }
        Principal::VirtualAccount(i) => {
            let va = tables
                .virtual_accounts
                .get(i.index())
                .ok_or(Reason::PrincipalUnknown)?;
            if va.expires().is_some_and(|expires| now >= expires) {
                return Err(Reason::PrincipalExpired);
            }
        }
        // Admitted by `just_in_time`; nothing in the bundle to check against yet.
        Principal::JustInTime => {}
    }
    Ok(())
}

/// `gatehouse check --credential` and the analyses: the key of `id`, as if its holder presented
/// it (offline, without the secret), with every check but the digest: revoked, expired, then its
/// principal and the principal checks.
pub(crate) fn credential_of(tables: &Tables<'_>, id: KeyId, now: i64) -> Result<Caller, Reason> {
    let record = tables.credential(id.0).ok_or(Reason::CredentialUnknown)?;
    credential_caller(tables, record, id, now)
}

/// The caller a key stands for: revocation, expiry, then its principal and the principal checks.
fn credential_caller(
    tables: &Tables<'_>,
    record: &crate::bundle::CredentialRecord,
    id: KeyId,
    now: i64,
) -> Result<Caller, Reason> {
    let scope = match record.state() {
        CredentialState::Revoked => return Err(Reason::TokenRevoked),
        CredentialState::Live { scope } => scope,
    };
    if record.expires().is_some_and(|expires| now >= expires) {
        return Err(Reason::TokenExpired);
    }
    let code = record.principal_code().ok_or(Reason::PrincipalUnknown)?;
    let mut caller = match SubjectCode::from_wire(zerocopy::little_endian::U32::new(code)).subject()
    {
        crate::model::Subject::User(id) => {
            tables
                .users
                .get(id.index())
                .ok_or(Reason::PrincipalUnknown)?;
            user_caller_of(tables, id)
        }
        crate::model::Subject::VirtualAccount(id) => {
            tables
                .virtual_accounts
                .get(id.index())
                .ok_or(Reason::PrincipalUnknown)?;
            Caller::virtual_account(id)
        }
        _ => return Err(Reason::PrincipalUnknown),
    };
    check_principal(tables, &caller, now)?;
    caller.credential = Some(CallerCredential { id, scope });
    Ok(caller)
}

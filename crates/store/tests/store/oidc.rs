//! What OpenID Connect sign-ins keep: the provider session each Workbench session started from
//! (so that a back-channel logout ends exactly those), every session of a person ended with their
//! access tokens, and logout tokens honoured once, also when two instances race with one. Run
//! against SQLite always and PostgreSQL when reachable (always under `CI=true`).

use std::sync::Arc;

use chrono::TimeDelta;
use workbench_scheduled::AccountHousekeeping;
use workbench_store::{Database, DieselHousekeeping, DieselRefreshTokenStore, DieselUserRepository, engine_cases};
use workbench_users::{
    AuditAction, ClientInfo, Email, NewAuditEntry, NewRefreshToken, NewUser, ProviderSession, RefreshToken,
    RefreshTokenStore, Role, User, UserRepository, Username, now,
};

engine_cases!(
    a_provider_session_ends_only_its_families,
    every_session_of_a_person_ends_with_their_access_tokens,
    a_logout_token_is_claimed_once,
    the_purge_takes_the_provider_sessions_of_purged_families,
);

const ISSUER: &str = "https://id.example/realms/corp";

async fn user(db: &Database, name: &str) -> User {
    let new = NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(format!("{name}@example.com")).unwrap(),
        password_hash: None,
        role: Role::User,
        created_at: now(),
    };
    DieselUserRepository::new(db.clone()).create(new).await.unwrap()
}

/// Signs `user` in as a new family, from provider session `sid` of `subject` when given.
async fn sign_in(tokens: &DieselRefreshTokenStore, user: &User, family: &str, idp: Option<(&str, &str)>) {
    sign_in_at(tokens, user, family, idp, now()).await;
}

async fn sign_in_at(
    tokens: &DieselRefreshTokenStore,
    user: &User,
    family: &str,
    idp: Option<(&str, &str)>,
    at: chrono::DateTime<chrono::Utc>,
) {
    let token = NewRefreshToken {
        user_id: user.id,
        family_id: family.to_owned(),
        hash: RefreshToken::generate().hash(),
        signed_in_at: at,
        created_at: at,
        expires_at: at + TimeDelta::days(1),
        provider_session: idp.map(|(subject, sid)| ProviderSession {
            issuer: ISSUER.into(),
            subject: subject.into(),
            sid: Some(sid.into()),
        }),
    };
    tokens.insert(token, Vec::new()).await.unwrap();
}

fn entry() -> NewAuditEntry {
    NewAuditEntry::new(AuditAction::Logout, &ClientInfo::default()).with("reason", "provider_logout")
}

async fn ended(tokens: &DieselRefreshTokenStore, family: &str) -> bool {
    tokens.sign_in(family).await.unwrap().unwrap().ended
}

async fn a_provider_session_ends_only_its_families(db: Database) {
    let tokens = DieselRefreshTokenStore::new(db.clone());
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    sign_in(&tokens, &ann, "fam-ann-1", Some(("ann-sub", "sid-1"))).await;
    sign_in(&tokens, &ann, "fam-ann-2", Some(("ann-sub", "sid-2"))).await;
    sign_in(&tokens, &ann, "fam-ann-password", None).await;
    sign_in(&tokens, &bob, "fam-bob", Some(("bob-sub", "sid-1"))).await;
    // A sid with another person's subject names nothing.
    let none = tokens.end_provider_session(ISSUER, "sid-1", Some("eve-sub".into()), now(), entry()).await.unwrap();
    assert!(none.is_empty());
    let gone = tokens.end_provider_session(ISSUER, "sid-1", Some("ann-sub".into()), now(), entry()).await.unwrap();
    assert_eq!(gone, vec![("fam-ann-1".to_owned(), ann.id)]);
    assert!(ended(&tokens, "fam-ann-1").await);
    for live in ["fam-ann-2", "fam-ann-password", "fam-bob"] {
        assert!(!ended(&tokens, live).await, "{live} stays");
    }
    let other_issuer = tokens.end_provider_session("https://elsewhere", "sid-2", None, now(), entry()).await.unwrap();
    assert!(other_issuer.is_empty(), "sids are the issuer's");
    // Without a subject, the sid alone decides.
    let both = tokens.end_provider_session(ISSUER, "sid-1", None, now(), entry()).await.unwrap();
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(ended(&tokens, "fam-bob").await);
}

async fn every_session_of_a_person_ends_with_their_access_tokens(db: Database) {
    let tokens = DieselRefreshTokenStore::new(db.clone());
    let users = DieselUserRepository::new(db.clone());
    let ann = user(&db, "ann").await;
    sign_in(&tokens, &ann, "fam-1", Some(("ann-sub", "sid-1"))).await;
    sign_in(&tokens, &ann, "fam-2", None).await;
    tokens.end_every_session(ann.id, now(), vec![entry().by(ann.id).on(ann.id)]).await.unwrap();
    assert!(ended(&tokens, "fam-1").await && ended(&tokens, "fam-2").await);
    let after = users.find(ann.id).await.unwrap().unwrap();
    assert_eq!(after.token_generation, ann.token_generation + 1, "access tokens issued before end");
}

async fn a_logout_token_is_claimed_once(db: Database) {
    let tokens = Arc::new(DieselRefreshTokenStore::new(db.clone()));
    let until = now() + TimeDelta::minutes(10);
    assert!(tokens.claim_logout_token(ISSUER, "jti-1", until).await.unwrap());
    assert!(!tokens.claim_logout_token(ISSUER, "jti-1", until).await.unwrap(), "replayed");
    assert!(tokens.claim_logout_token("https://elsewhere", "jti-1", until).await.unwrap(), "per issuer");
    // Two instances given the same new token at once: one honours it.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.claim_logout_token(ISSUER, "jti-race", until).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        won += usize::from(racer.await.unwrap());
    }
    assert_eq!(won, 1);
    // An id past its time is swept by the next claim, and may be claimed again.
    assert!(tokens.claim_logout_token(ISSUER, "jti-old", now() - TimeDelta::seconds(1)).await.unwrap());
    assert!(tokens.claim_logout_token(ISSUER, "jti-new", until).await.unwrap());
    assert!(tokens.claim_logout_token(ISSUER, "jti-old", until).await.unwrap(), "swept");
}

async fn the_purge_takes_the_provider_sessions_of_purged_families(db: Database) {
    let tokens = DieselRefreshTokenStore::new(db.clone());
    let ann = user(&db, "ann").await;
    sign_in_at(&tokens, &ann, "fam-old", Some(("ann-sub", "sid-old")), now() - TimeDelta::days(3)).await;
    sign_in(&tokens, &ann, "fam-new", Some(("ann-sub", "sid-new"))).await;
    let purged = DieselHousekeeping::new(db.clone()).purge_expired_refresh_tokens(now()).await.unwrap();
    assert_eq!(purged, 1);
    let old = tokens.end_provider_session(ISSUER, "sid-old", None, now(), entry()).await.unwrap();
    assert!(old.is_empty(), "its provider session went with it");
    let new = tokens.end_provider_session(ISSUER, "sid-new", None, now(), entry()).await.unwrap();
    assert_eq!(new.len(), 1, "a live family keeps its own");
}

//! The contract of the personal access token store, against SQLite always and PostgreSQL when
//! reachable (always under `CI=true`).

use chrono::{Duration, DurationRound};
use workbench_core::{PageRequest, RepositoryError};
use workbench_store::{
    Database, DieselAuditLog, DieselRefreshTokenStore, DieselTokenRepository, DieselUserRepository, engine_cases,
};
use workbench_tokens::{NewToken, Scope, Scopes, TokenDigest, TokenId, TokenRepository};
use workbench_users::{
    AuditAction, AuditLog, AuditQuery, ClientInfo, Email, NewAuditEntry, NewRefreshToken, NewUser, RefreshToken,
    RefreshTokenStore, Role, SignIn, User, UserId, UserRepository, Username, now,
};

engine_cases!(
    a_token_is_found_by_its_digest_with_its_grant,
    listing_is_newest_first_per_user_and_paged,
    revoking_deletes_the_token_with_its_audit_entry_and_only_the_owners,
    uses_only_move_last_used_forward,
    a_token_goes_with_its_user,
    a_stolen_session_takes_the_tokens_made_from_it_and_only_those,
    a_session_tells_its_sign_in_time_through_rotations_and_whether_it_ended,
);

async fn create_user(db: &Database, name: &str) -> User {
    DieselUserRepository::new(db.clone())
        .create(NewUser {
            username: Username::parse(name).unwrap(),
            email: Email::parse(format!("{name}@example.com")).unwrap(),
            password_hash: Some("hash".into()),
            role: Role::User,
            created_at: now(),
        })
        .await
        .unwrap()
}

fn client() -> ClientInfo {
    ClientInfo { ip: Some("192.0.2.7".into()), user_agent: Some("test".into()) }
}

fn new_token(user: UserId, secret: &str, name: &str) -> NewToken {
    let created_at = now();
    NewToken {
        user_id: user,
        name: name.into(),
        scopes: Scopes::of([Scope::TasksWrite, Scope::ProfileRead]),
        digest: TokenDigest::of(secret),
        prefix: secret[..12].to_owned(),
        expires_at: created_at + Duration::days(90),
        created_at,
        session_id: None,
    }
}

fn created(user: UserId) -> NewAuditEntry {
    NewAuditEntry::new(AuditAction::TokenCreated, &client()).by(user).on(user)
}

async fn a_token_is_found_by_its_digest_with_its_grant(db: Database) {
    let user = create_user(&db, "ada").await;
    let tokens = DieselTokenRepository::new(db.clone());
    let stored = tokens.insert(new_token(user.id, "wbp_aaaaaaaaaaaaaaaa", "ci"), created(user.id)).await.unwrap();
    assert_eq!((stored.name.as_str(), stored.prefix.as_str()), ("ci", "wbp_aaaaaaaa"));
    assert_eq!(stored.scopes, Scopes::of([Scope::TasksWrite, Scope::ProfileRead]));
    assert_eq!(stored.last_used_at, None);

    let grant = tokens.grant(TokenDigest::of("wbp_aaaaaaaaaaaaaaaa")).await.unwrap().expect("found by digest");
    assert_eq!((grant.token_id, grant.user_id, grant.scopes), (stored.id, user.id, stored.scopes));
    assert_eq!(grant.expires_at, stored.expires_at);
    assert!(tokens.grant(TokenDigest::of("wbp_aaaaaaaaaaaaaaab")).await.unwrap().is_none());

    let same = tokens.insert(new_token(user.id, "wbp_aaaaaaaaaaaaaaaa", "again"), created(user.id)).await;
    assert!(matches!(same, Err(RepositoryError::Conflict { field: "token" })), "{same:?}");

    let trail = DieselAuditLog::new(db.clone())
        .list(AuditQuery { action: Some(AuditAction::TokenCreated), ..AuditQuery::default() })
        .await
        .unwrap();
    assert_eq!(trail.items.len(), 1, "one entry, and none for the refused duplicate");
    assert_eq!(trail.items[0].details["token_id"], stored.id.0);

    let gone = tokens.insert(new_token(UserId(999_999), "wbp_bbbbbbbbbbbbbbbb", "x"), created(user.id)).await;
    assert!(matches!(gone, Err(RepositoryError::MissingReference { field: "user_id" })));
}

async fn listing_is_newest_first_per_user_and_paged(db: Database) {
    let ada = create_user(&db, "ada").await;
    let bob = create_user(&db, "bob").await;
    let tokens = DieselTokenRepository::new(db.clone());
    for i in 0..3 {
        tokens
            .insert(new_token(ada.id, &format!("wbp_ada_token_{i}"), &format!("t{i}")), created(ada.id))
            .await
            .unwrap();
    }
    tokens.insert(new_token(bob.id, "wbp_bob_token_0", "bob's"), created(bob.id)).await.unwrap();

    let page = tokens.list(ada.id, PageRequest::new(Some(1), Some(2)).unwrap()).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.items.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t2", "t1"]);
    let rest = tokens.list(ada.id, PageRequest::new(Some(2), Some(2)).unwrap()).await.unwrap();
    assert_eq!(rest.items.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t0"]);
    let past = tokens.list(ada.id, PageRequest::new(Some(9), Some(2)).unwrap()).await.unwrap();
    assert!(past.items.is_empty() && past.total == 3);
    assert_eq!(tokens.list(bob.id, PageRequest::first()).await.unwrap().total, 1);
}

async fn revoking_deletes_the_token_with_its_audit_entry_and_only_the_owners(db: Database) {
    let ada = create_user(&db, "ada").await;
    let bob = create_user(&db, "bob").await;
    let tokens = DieselTokenRepository::new(db.clone());
    let token = tokens.insert(new_token(ada.id, "wbp_revoke_me_1234", "ci"), created(ada.id)).await.unwrap();
    let revoked = |user: UserId| NewAuditEntry::new(AuditAction::TokenRevoked, &client()).by(user).on(user);

    assert_eq!(tokens.revoke(bob.id, token.id, revoked(bob.id)).await.unwrap(), None, "not bob's");
    assert!(tokens.grant(TokenDigest::of("wbp_revoke_me_1234")).await.unwrap().is_some());
    let digest = tokens.revoke(ada.id, token.id, revoked(ada.id)).await.unwrap();
    assert_eq!(digest, Some(TokenDigest::of("wbp_revoke_me_1234")));
    assert!(tokens.grant(TokenDigest::of("wbp_revoke_me_1234")).await.unwrap().is_none());
    assert_eq!(tokens.revoke(ada.id, token.id, revoked(ada.id)).await.unwrap(), None, "once");
    assert_eq!(tokens.list(ada.id, PageRequest::first()).await.unwrap().total, 0);

    let trail = DieselAuditLog::new(db.clone())
        .list(AuditQuery { action: Some(AuditAction::TokenRevoked), ..AuditQuery::default() })
        .await
        .unwrap();
    assert_eq!(trail.items.len(), 1, "only the revocation that deleted something is recorded");
    assert_eq!(trail.items[0].actor_id, Some(ada.id));
}

async fn uses_only_move_last_used_forward(db: Database) {
    let ada = create_user(&db, "ada").await;
    let tokens = DieselTokenRepository::new(db.clone());
    let a = tokens.insert(new_token(ada.id, "wbp_used_token_a", "a"), created(ada.id)).await.unwrap();
    let b = tokens.insert(new_token(ada.id, "wbp_used_token_b", "b"), created(ada.id)).await.unwrap();
    let later = now().duration_trunc(Duration::seconds(1)).unwrap() + Duration::minutes(5);
    let earlier = later - Duration::minutes(3);

    tokens.record_uses(vec![(b.id, later), (a.id, earlier), (TokenId(999_999), later)]).await.unwrap();
    tokens.record_uses(vec![(b.id, earlier)]).await.unwrap();
    let listed = tokens.list(ada.id, PageRequest::first()).await.unwrap().items;
    let used = |id: TokenId| listed.iter().find(|t| t.id == id).unwrap().last_used_at;
    assert_eq!(used(a.id), Some(earlier));
    assert_eq!(used(b.id), Some(later), "an earlier use written after a later one does not win");
    let grant = tokens.grant(TokenDigest::of("wbp_used_token_b")).await.unwrap().unwrap();
    assert_eq!(grant.token_id, b.id);
}

async fn a_token_goes_with_its_user(db: Database) {
    let ada = create_user(&db, "ada").await;
    let tokens = DieselTokenRepository::new(db.clone());
    tokens.insert(new_token(ada.id, "wbp_doomed_token_1", "ci"), created(ada.id)).await.unwrap();
    let entry = NewAuditEntry::new(AuditAction::UserDeleted, &client()).on(ada.id);
    DieselUserRepository::new(db.clone()).delete(ada.id, None, vec![entry]).await.unwrap();
    assert!(tokens.grant(TokenDigest::of("wbp_doomed_token_1")).await.unwrap().is_none());
}

/// A sign-in of `user` at `at`: the first refresh token of the family `session`.
fn signed_in(user: UserId, session: &str, at: chrono::DateTime<chrono::Utc>) -> NewRefreshToken {
    NewRefreshToken {
        user_id: user,
        family_id: session.to_owned(),
        hash: RefreshToken::generate().hash(),
        signed_in_at: at,
        created_at: at,
        expires_at: at + Duration::days(7),
        provider_session: None,
    }
}

/// `new_token`, made from the session `session`.
fn made_from(user: UserId, secret: &str, session: &str) -> NewToken {
    NewToken { session_id: Some(session.to_owned()), ..new_token(user, secret, secret) }
}

async fn a_stolen_session_takes_the_tokens_made_from_it_and_only_those(db: Database) {
    let ada = create_user(&db, "ada").await;
    let bob = create_user(&db, "bob").await;
    let (tokens, sessions) = (DieselTokenRepository::new(db.clone()), DieselRefreshTokenStore::new(db.clone()));
    let (stolen, other) = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222");
    sessions.insert(signed_in(ada.id, stolen, now()), vec![]).await.unwrap();
    sessions.insert(signed_in(ada.id, other, now()), vec![]).await.unwrap();
    let first = tokens.insert(made_from(ada.id, "wbp_from_stolen_1", stolen), created(ada.id)).await.unwrap();
    let second = tokens.insert(made_from(ada.id, "wbp_from_stolen_2", stolen), created(ada.id)).await.unwrap();
    tokens.insert(made_from(ada.id, "wbp_from_other_01", other), created(ada.id)).await.unwrap();
    tokens.insert(new_token(ada.id, "wbp_from_nowhere_", "old"), created(ada.id)).await.unwrap();
    // Bob's token naming Ada's session (no request can make one) is still not Ada's to lose.
    tokens.insert(made_from(bob.id, "wbp_bobs_own_token", stolen), created(bob.id)).await.unwrap();

    let reuse = NewAuditEntry::new(AuditAction::RefreshTokenReuse, &client()).on(ada.id).with("family", stolen);
    sessions.revoke_stolen_family(stolen, ada.id, now(), vec![reuse]).await.unwrap();

    let alive = |secret: &'static str| {
        let tokens = tokens.clone();
        async move { tokens.grant(TokenDigest::of(secret)).await.unwrap().is_some() }
    };
    assert!(!alive("wbp_from_stolen_1").await && !alive("wbp_from_stolen_2").await, "made from the stolen session");
    assert!(alive("wbp_from_other_01").await, "another session's token stays");
    assert!(alive("wbp_from_nowhere_").await, "a token naming no session stays");
    assert!(alive("wbp_bobs_own_token").await, "another user's token stays");
    let ada_now = DieselUserRepository::new(db.clone()).find(ada.id).await.unwrap().unwrap();
    assert_eq!(ada_now.token_generation, ada.token_generation + 1, "in the same transaction as the rest");
    assert!(sessions.sign_in(stolen).await.unwrap().is_some_and(|s| s.ended));
    assert!(sessions.sign_in(other).await.unwrap().is_some_and(|s| !s.ended));

    let trail = DieselAuditLog::new(db.clone())
        .list(AuditQuery { action: Some(AuditAction::RefreshTokenReuse), ..AuditQuery::default() })
        .await
        .unwrap();
    assert_eq!(trail.items.len(), 1);
    assert_eq!(trail.items[0].details["revoked_token_ids"], serde_json::json!([first.id.0, second.id.0]));
    assert_eq!(trail.items[0].details["family"], stolen);
}

async fn a_session_tells_its_sign_in_time_through_rotations_and_whether_it_ended(db: Database) {
    let ada = create_user(&db, "ada").await;
    let sessions = DieselRefreshTokenStore::new(db.clone());
    let session = "33333333-3333-4333-8333-333333333333";
    let at = now() - Duration::hours(3);
    let first = signed_in(ada.id, session, at);
    let first_hash = first.hash.clone();
    sessions.insert(first, vec![]).await.unwrap();
    let first = sessions.find(&first_hash).await.unwrap().unwrap();
    assert_eq!(first.signed_in_at, at);

    let next = NewRefreshToken { created_at: now(), ..signed_in(ada.id, session, at) };
    let next_hash = next.hash.clone();
    assert!(sessions.rotate(first.id, next, now()).await.unwrap());
    assert_eq!(sessions.find(&next_hash).await.unwrap().unwrap().signed_in_at, at, "a refresh keeps the sign-in");
    let found = sessions.sign_in(session).await.unwrap();
    assert_eq!(found, Some(SignIn { user_id: ada.id, signed_in_at: at, ended: false }));

    sessions.revoke_family(session, now(), vec![]).await.unwrap();
    assert_eq!(sessions.sign_in(session).await.unwrap().map(|s| s.ended), Some(true), "signed out");
    assert_eq!(sessions.sign_in("44444444-4444-4444-8444-444444444444").await.unwrap(), None);
}

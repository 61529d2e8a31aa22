//! The contract of the personal access token store, against SQLite always and PostgreSQL when
//! reachable (always under `CI=true`).

use chrono::{Duration, DurationRound};
use workbench_core::{PageRequest, RepositoryError};
use workbench_store::{Database, DieselAuditLog, DieselTokenRepository, DieselUserRepository, engine_cases};
use workbench_tokens::{NewToken, Scope, Scopes, TokenDigest, TokenId, TokenRepository};
use workbench_users::{
    AuditAction, AuditLog, AuditQuery, ClientInfo, Email, NewAuditEntry, NewUser, Role, User, UserId, UserRepository,
    Username, now,
};

engine_cases!(
    a_token_is_found_by_its_digest_with_its_grant,
    listing_is_newest_first_per_user_and_paged,
    revoking_deletes_the_token_with_its_audit_entry_and_only_the_owners,
    uses_only_move_last_used_forward,
    a_token_goes_with_its_user,
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

//! The contract of the store of sign-ins waiting for their second factor: single use decided by
//! the database, expiry, and the account's deletion taking its tokens along. Run against SQLite
//! always and PostgreSQL when reachable (always under `CI=true`).

use std::sync::Arc;

use chrono::TimeDelta;
use workbench_store::{Database, DieselMfaTokenStore, DieselUserRepository, engine_cases};
use workbench_users::{
    Email, MfaToken, MfaTokenStore, NewUser, OAuthProviderName, PendingSecondFactor, Role, UserId, UserRepository,
    Username, now,
};

engine_cases!(
    mfa_tokens_round_trip_and_are_spent_once,
    an_expired_mfa_token_is_not_spent,
    of_racing_spends_exactly_one_wins,
    expired_mfa_tokens_are_swept_and_deleted_accounts_take_theirs,
);

async fn account(db: &Database, name: &str) -> UserId {
    let user = NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(format!("{name}@example.com")).unwrap(),
        password_hash: None,
        role: Role::User,
        created_at: now(),
    };
    DieselUserRepository::new(db.clone()).create(user).await.unwrap().id
}

fn pending(user_id: UserId, expires_in: TimeDelta) -> PendingSecondFactor {
    PendingSecondFactor { user_id, provider: OAuthProviderName::GitHub, expires_at: now() + expires_in, session: None }
}

async fn mfa_tokens_round_trip_and_are_spent_once(db: Database) {
    let store = DieselMfaTokenStore::new(db.clone());
    let ann = account(&db, "ann").await;
    let token = MfaToken::generate();
    let waiting = pending(ann, TimeDelta::minutes(5));
    store.save(token.hash(), waiting.clone()).await.unwrap();

    assert_eq!(store.find(&token.hash()).await.unwrap(), Some(waiting.clone()));
    assert_eq!(store.find(&MfaToken::generate().hash()).await.unwrap(), None);
    assert!(!store.spend(&MfaToken::generate().hash(), now()).await.unwrap(), "an unknown token");
    // Finding spends nothing.
    assert_eq!(store.find(&token.hash()).await.unwrap(), Some(waiting));
    assert!(store.spend(&token.hash(), now()).await.unwrap());
    assert!(!store.spend(&token.hash(), now()).await.unwrap(), "a token is spent once");
    assert_eq!(store.find(&token.hash()).await.unwrap(), None);
}

async fn an_expired_mfa_token_is_not_spent(db: Database) {
    let store = DieselMfaTokenStore::new(db.clone());
    let ann = account(&db, "ann").await;
    let token = MfaToken::generate();
    store.save(token.hash(), pending(ann, TimeDelta::minutes(5))).await.unwrap();

    // Five minutes and a second later, the same token is refused (the clock is the caller's).
    let later = now() + TimeDelta::minutes(5) + TimeDelta::seconds(1);
    assert!(!store.spend(&token.hash(), later).await.unwrap(), "expired");
    // Expired tokens are still found (the domain decides), and spendable before their time.
    assert!(store.find(&token.hash()).await.unwrap().is_some());
    assert!(store.spend(&token.hash(), now()).await.unwrap());
}

async fn of_racing_spends_exactly_one_wins(db: Database) {
    let store = Arc::new(DieselMfaTokenStore::new(db.clone()));
    let ann = account(&db, "ann").await;
    let token = MfaToken::generate();
    store.save(token.hash(), pending(ann, TimeDelta::minutes(5))).await.unwrap();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, hash) = (store.clone(), token.hash());
            tokio::spawn(async move { store.spend(&hash, now()).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one concurrent spend succeeds");
}

async fn expired_mfa_tokens_are_swept_and_deleted_accounts_take_theirs(db: Database) {
    let store = DieselMfaTokenStore::new(db.clone());
    let (ann, bob) = (account(&db, "ann").await, account(&db, "bob").await);
    let stale = MfaToken::generate();
    store.save(stale.hash(), pending(ann, TimeDelta::seconds(-1))).await.unwrap();
    let bobs = MfaToken::generate();
    store.save(bobs.hash(), pending(bob, TimeDelta::minutes(5))).await.unwrap();
    assert_eq!(store.find(&stale.hash()).await.unwrap(), None, "swept by the next save");

    assert!(DieselUserRepository::new(db.clone()).delete(bob, None, Vec::new()).await.unwrap());
    assert_eq!(store.find(&bobs.hash()).await.unwrap(), None, "gone with the account");
}

//! The contract of the security adapters: audit trail, TOTP state and recovery codes, OAuth
//! identities and pending authorizations, and the audit entries written with the changes they
//! record. Run against SQLite always and PostgreSQL when reachable (always under `CI=true`).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use workbench_core::{PageRequest, RepositoryError};
use workbench_store::{
    Database, DieselAuditLog, DieselOAuthStateStore, DieselRefreshTokenStore, DieselUserRepository, engine_cases,
};
use workbench_users::{
    AuditAction, AuditLog, AuditQuery, ClientInfo, Email, ExternalIdentity, NewAuditEntry, NewRefreshToken, NewUser,
    OAuthProviderName, OAuthStateStore, PendingAuthorization, RecoveryCode, RefreshToken, RefreshTokenStore, Role,
    TokenHash, User, UserId, UserRepository, UserStatus, Username, now,
};

engine_cases!(
    audit_entries_round_trip_newest_first,
    audit_filters_and_pages,
    password_change_revokes_tokens_and_is_recorded,
    disabling_revokes_tokens_and_is_recorded,
    deletion_is_recorded_and_outlives_the_account,
    sign_in_and_logout_entries_go_with_the_token_change,
    identities_link_once_and_find_their_account,
    new_account_with_identity_is_one_change,
    totp_pending_enable_and_disable,
    totp_steps_only_move_forward,
    recovery_codes_work_once_even_concurrently,
    second_factor_locks_after_the_limit,
    oauth_states_are_single_use,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn users(db: &Database) -> DieselUserRepository {
    DieselUserRepository::new(db.clone())
}

fn audit(db: &Database) -> DieselAuditLog {
    DieselAuditLog::new(db.clone())
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(format!("{name}@example.com")).unwrap(),
        password_hash: Some(format!("hash-of-{name}")),
        role: Role::User,
        created_at: now(),
    }
}

async fn create(db: &Database, name: &str) -> User {
    users(db).create(new_user(name)).await.unwrap()
}

fn client() -> ClientInfo {
    ClientInfo { ip: Some("203.0.113.9".into()), user_agent: Some("Mozilla/5.0 (test)".into()) }
}

fn entry(action: AuditAction) -> NewAuditEntry {
    NewAuditEntry::new(action, &client())
}

fn instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap() + TimeDelta::microseconds(4_321)
}

fn all() -> AuditQuery {
    AuditQuery { page: PageRequest::new(Some(1), Some(100)).unwrap(), ..AuditQuery::default() }
}

async fn actions(db: &Database, query: AuditQuery) -> Vec<AuditAction> {
    audit(db).list(query).await.unwrap().items.into_iter().map(|e| e.action).collect()
}

fn token(user: UserId, family: &str) -> NewRefreshToken {
    let at = now();
    NewRefreshToken {
        user_id: user,
        family_id: family.to_owned(),
        hash: RefreshToken::generate().hash(),
        signed_in_at: at,
        created_at: at,
        expires_at: at + TimeDelta::days(1),
        provider_session: None,
    }
}

fn identity(provider: &OAuthProviderName, subject: &str) -> ExternalIdentity {
    ExternalIdentity {
        provider: provider.as_str().to_owned(),
        subject: subject.to_owned(),
        email: Some(format!("{subject}@provider.test")),
        linked_at: now(),
    }
}

// ---------------------------------------------------------------------------------------------
// The audit trail
// ---------------------------------------------------------------------------------------------

async fn audit_entries_round_trip_newest_first(db: Database) {
    let log = audit(&db);
    let first = entry(AuditAction::LoginFailed).with("email", "ghost@example.com").with("reason", "unknown_email");
    let first = first.at(instant());
    log.record(first.clone()).await.unwrap();
    let second = entry(AuditAction::Login).by(UserId(7)).on(UserId(7)).with("method", "password");
    log.record(second).await.unwrap();

    let page = log.list(all()).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].action, AuditAction::Login, "newest first");
    let stored = &page.items[1];
    assert_eq!(stored.action, AuditAction::LoginFailed);
    assert_eq!((stored.actor_id, stored.target_id), (None, None));
    assert_eq!(stored.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(stored.user_agent.as_deref(), Some("Mozilla/5.0 (test)"));
    assert_eq!(stored.details, first.details, "details come back as the same JSON object");
    assert_eq!(stored.created_at, instant(), "timestamps round-trip to the microsecond");
    assert_eq!(page.items[0].actor_id, Some(UserId(7)));
}

async fn audit_filters_and_pages(db: Database) {
    let log = audit(&db);
    let base = instant();
    for i in 0..5 {
        let action = if i % 2 == 0 { AuditAction::Login } else { AuditAction::Logout };
        let e = entry(action).by(UserId(1 + i % 2)).at(base + TimeDelta::minutes(i));
        log.record(e).await.unwrap();
    }
    let by_actor = AuditQuery { actor_id: Some(UserId(1)), ..all() };
    assert_eq!(actions(&db, by_actor).await, [AuditAction::Login; 3]);
    let by_action = AuditQuery { action: Some(AuditAction::Logout), ..all() };
    assert_eq!(actions(&db, by_action).await, [AuditAction::Logout; 2]);
    let since = AuditQuery { since: Some(base + TimeDelta::minutes(3)), ..all() };
    assert_eq!(log.list(since).await.unwrap().total, 2, "since is inclusive");
    let both = AuditQuery { actor_id: Some(UserId(2)), action: Some(AuditAction::Login), ..all() };
    assert!(actions(&db, both).await.is_empty());

    let second_page = AuditQuery { page: PageRequest::new(Some(2), Some(2)).unwrap(), ..AuditQuery::default() };
    let page = log.list(second_page).await.unwrap();
    assert_eq!((page.total, page.items.len()), (5, 2));
    let times: Vec<_> = page.items.iter().map(|e| e.created_at).collect();
    assert_eq!(times, [base + TimeDelta::minutes(2), base + TimeDelta::minutes(1)]);
}

async fn password_change_revokes_tokens_and_is_recorded(db: Database) {
    let repo = users(&db);
    let store = DieselRefreshTokenStore::new(db.clone());
    let ann = create(&db, "ann").await;
    let bob = create(&db, "bob").await;
    let ann_token = token(ann.id, "f1");
    let bob_token = token(bob.id, "f2");
    store.insert(ann_token.clone(), vec![]).await.unwrap();
    store.insert(bob_token.clone(), vec![]).await.unwrap();

    let change = entry(AuditAction::PasswordChanged).by(ann.id).on(ann.id);
    repo.change_password(ann.id, "new-hash".into(), now(), vec![change]).await.unwrap();
    assert_eq!(repo.password_hash(ann.id).await.unwrap().as_deref(), Some("new-hash"));
    assert!(store.find(&ann_token.hash).await.unwrap().unwrap().revoked_at.is_some());
    assert!(store.find(&bob_token.hash).await.unwrap().unwrap().revoked_at.is_none(), "only that user's tokens");
    let trail = audit(&db).list(all()).await.unwrap();
    assert_eq!(trail.items.len(), 1);
    assert_eq!((trail.items[0].action, trail.items[0].actor_id), (AuditAction::PasswordChanged, Some(ann.id)));

    // No account, no change, no entry.
    let ghost = UserId(ann.id.0 + 1000);
    repo.change_password(ghost, "h".into(), now(), vec![entry(AuditAction::PasswordChanged)]).await.unwrap();
    assert_eq!(audit(&db).list(all()).await.unwrap().total, 1);
}

async fn disabling_revokes_tokens_and_is_recorded(db: Database) {
    let repo = users(&db);
    let store = DieselRefreshTokenStore::new(db.clone());
    let ann = create(&db, "ann").await;
    let live = token(ann.id, "f1");
    store.insert(live.clone(), vec![]).await.unwrap();

    let changes = vec![
        entry(AuditAction::RoleChanged).by(UserId(99)).on(ann.id).with("to", "moderator"),
        entry(AuditAction::StatusChanged).by(UserId(99)).on(ann.id).with("to", "disabled"),
    ];
    let updated = repo
        .set_role_and_status(ann.id, Some(Role::Moderator), Some(UserStatus::Disabled), now(), None, changes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((updated.role, updated.status), (Role::Moderator, UserStatus::Disabled));
    assert_eq!(updated.token_generation, ann.token_generation + 1);
    assert!(store.find(&live.hash).await.unwrap().unwrap().revoked_at.is_some(), "disabling revokes sessions");
    assert_eq!(actions(&db, all()).await, [AuditAction::StatusChanged, AuditAction::RoleChanged]);

    let ghost = UserId(ann.id.0 + 1000);
    let none =
        repo.set_role_and_status(ghost, Some(Role::Admin), None, now(), None, vec![entry(AuditAction::RoleChanged)]);
    assert_eq!(none.await.unwrap(), None);
    assert_eq!(audit(&db).list(all()).await.unwrap().total, 2, "nothing is recorded for no change");
}

async fn deletion_is_recorded_and_outlives_the_account(db: Database) {
    let repo = users(&db);
    let ann = create(&db, "ann").await;
    let deleted = entry(AuditAction::UserDeleted).by(UserId(99)).on(ann.id).with("username", "ann");
    assert!(repo.delete(ann.id, None, vec![deleted]).await.unwrap());
    assert!(!repo.delete(ann.id, None, vec![entry(AuditAction::UserDeleted)]).await.unwrap());
    let trail = audit(&db).list(all()).await.unwrap();
    assert_eq!(trail.total, 1, "the second, empty deletion is not recorded");
    assert_eq!(trail.items[0].target_id, Some(ann.id), "the entry still names the deleted account");
}

async fn sign_in_and_logout_entries_go_with_the_token_change(db: Database) {
    let store = DieselRefreshTokenStore::new(db.clone());
    let ann = create(&db, "ann").await;
    store.insert(token(ann.id, "fam"), vec![entry(AuditAction::Login).by(ann.id)]).await.unwrap();
    store.revoke_family("fam", now(), vec![entry(AuditAction::Logout).by(ann.id)]).await.unwrap();
    assert_eq!(actions(&db, all()).await, [AuditAction::Logout, AuditAction::Login]);

    // A token that cannot be stored (no such user) leaves no login entry behind.
    let orphan = token(UserId(ann.id.0 + 1000), "other");
    assert!(store.insert(orphan, vec![entry(AuditAction::Login)]).await.is_err());
    assert_eq!(audit(&db).list(all()).await.unwrap().total, 2, "the failed insert rolled back its entry");
}

// ---------------------------------------------------------------------------------------------
// OAuth identities and pending authorizations
// ---------------------------------------------------------------------------------------------

async fn identities_link_once_and_find_their_account(db: Database) {
    let repo = users(&db);
    let ann = create(&db, "ann").await;
    let bob = create(&db, "bob").await;
    let linked = entry(AuditAction::OauthLinked).by(ann.id).on(ann.id);
    repo.link_identity(ann.id, identity(&OAuthProviderName::GitHub, "42"), vec![linked]).await.unwrap();

    let found = repo.find_by_identity("github", "42").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(ann.id));
    assert_eq!(repo.find_by_identity("google", "42").await.unwrap(), None, "per provider");
    assert_eq!(repo.find_by_identity("github", "43").await.unwrap(), None);

    let again =
        repo.link_identity(bob.id, identity(&OAuthProviderName::GitHub, "42"), vec![entry(AuditAction::OauthLinked)]);
    match again.await {
        Err(RepositoryError::Conflict { field }) => assert_eq!(field, "identity"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(audit(&db).list(all()).await.unwrap().total, 1, "the refused link is not recorded");

    // One account may hold identities of both providers; they go with the account.
    repo.link_identity(ann.id, identity(&OAuthProviderName::Google, "g-1"), vec![]).await.unwrap();
    assert!(repo.delete(ann.id, None, vec![]).await.unwrap());
    assert_eq!(repo.find_by_identity("google", "g-1").await.unwrap(), None);
    repo.link_identity(bob.id, identity(&OAuthProviderName::GitHub, "42"), vec![]).await.unwrap();
}

async fn new_account_with_identity_is_one_change(db: Database) {
    let repo = users(&db);
    let made = repo
        .create_with_identity(
            NewUser { password_hash: None, ..new_user("octocat") },
            identity(&OAuthProviderName::GitHub, "7"),
            vec![entry(AuditAction::OauthLinked).with("created", true)],
        )
        .await
        .unwrap();
    assert_eq!(repo.password_hash(made.id).await.unwrap(), None, "an OAuth account has no password");
    assert_eq!(repo.find_by_identity("github", "7").await.unwrap(), Some(made.clone()));
    let trail = audit(&db).list(all()).await.unwrap();
    assert_eq!((trail.items[0].actor_id, trail.items[0].target_id), (Some(made.id), Some(made.id)));

    // A taken username rolls the whole change back: no account, no identity, no entry.
    let clash = repo
        .create_with_identity(
            NewUser { email: Email::parse("other@example.com").unwrap(), ..new_user("OctoCat") },
            identity(&OAuthProviderName::GitHub, "8"),
            vec![entry(AuditAction::OauthLinked)],
        )
        .await;
    assert!(matches!(clash, Err(RepositoryError::Conflict { field: "username" })), "{clash:?}");
    assert_eq!(repo.find_by_identity("github", "8").await.unwrap(), None);
    assert_eq!(audit(&db).list(all()).await.unwrap().total, 1);
}

async fn oauth_states_are_single_use(db: Database) {
    let store = DieselOAuthStateStore::new(db.clone());
    let pending = PendingAuthorization {
        provider: OAuthProviderName::Google,
        pkce_verifier: "verifier-1".into(),
        expires_at: now() + TimeDelta::minutes(10),
        browser: TokenHash::of("browser-1"),
        nonce: Some("nonce-1".into()),
    };
    let state = TokenHash::of("state-1");
    store.save(state.clone(), pending.clone()).await.unwrap();
    assert_eq!(store.take(&TokenHash::of("other")).await.unwrap(), None);
    assert_eq!(store.take(&state).await.unwrap(), Some(pending.clone()));
    assert_eq!(store.take(&state).await.unwrap(), None, "a state is taken once");

    // Expired entries are still returned (the domain decides), but swept by later saves.
    let stale = PendingAuthorization { expires_at: now() - TimeDelta::minutes(1), ..pending.clone() };
    store.save(TokenHash::of("stale"), stale).await.unwrap();
    store.save(TokenHash::of("fresh"), pending.clone()).await.unwrap();
    assert_eq!(store.take(&TokenHash::of("stale")).await.unwrap(), None, "swept");

    // Of many concurrent callbacks with one state, exactly one gets it.
    let state = TokenHash::of("raced");
    store.save(state.clone(), pending).await.unwrap();
    let store = Arc::new(store);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, state) = (store.clone(), state.clone());
            tokio::spawn(async move { store.take(&state).await.unwrap().is_some() })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1);
}

// ---------------------------------------------------------------------------------------------
// TOTP
// ---------------------------------------------------------------------------------------------

async fn totp_pending_enable_and_disable(db: Database) {
    let repo = users(&db);
    let ann = create(&db, "ann").await;
    let fresh = repo.totp_state(ann.id).await.unwrap().unwrap();
    assert_eq!((fresh.secret, fresh.enabled), (None, false));
    let codes = || (0..10).map(|_| RecoveryCode::generate().hash()).collect::<Vec<_>>();
    assert!(
        !repo.enable_totp(ann.id, Some(5), codes(), now(), vec![]).await.unwrap(),
        "nothing to enable before setup"
    );

    assert!(repo.set_pending_totp(ann.id, "FIRST".into(), now()).await.unwrap());
    assert!(repo.set_pending_totp(ann.id, "SECOND".into(), now()).await.unwrap(), "setup again replaces");
    let enabled = vec![entry(AuditAction::TotpEnabled).by(ann.id)];
    assert!(repo.enable_totp(ann.id, Some(5), codes(), now(), enabled).await.unwrap());
    let state = repo.totp_state(ann.id).await.unwrap().unwrap();
    assert_eq!((state.secret.as_deref(), state.enabled, state.last_step), (Some("SECOND"), true, Some(5)));
    assert!(repo.find(ann.id).await.unwrap().unwrap().totp_enabled, "the user shows totp_enabled");
    assert_eq!(repo.recovery_codes_left(ann.id).await.unwrap(), 10);

    assert!(!repo.set_pending_totp(ann.id, "THIRD".into(), now()).await.unwrap(), "an enabled secret stays");
    assert!(!repo.enable_totp(ann.id, Some(6), codes(), now(), vec![entry(AuditAction::TotpEnabled)]).await.unwrap());
    assert_eq!(repo.totp_state(ann.id).await.unwrap().unwrap().secret.as_deref(), Some("SECOND"));
    assert_eq!(actions(&db, all()).await, [AuditAction::TotpEnabled], "the refused enable is not recorded");

    repo.disable_totp(ann.id, now(), vec![entry(AuditAction::TotpDisabled).by(ann.id)]).await.unwrap();
    let state = repo.totp_state(ann.id).await.unwrap().unwrap();
    assert_eq!((state.secret, state.enabled, state.last_step), (None, false, None));
    assert_eq!(repo.recovery_codes_left(ann.id).await.unwrap(), 0, "recovery codes go with it");
    assert!(!repo.find(ann.id).await.unwrap().unwrap().totp_enabled);
    assert_eq!(repo.totp_state(UserId(ann.id.0 + 1000)).await.unwrap(), None);
}

async fn enable(db: &Database, user: UserId, codes: Vec<TokenHash>) {
    let repo = users(db);
    assert!(repo.set_pending_totp(user, "SECRET".into(), now()).await.unwrap());
    assert!(repo.enable_totp(user, Some(100), codes, now(), vec![]).await.unwrap());
}

async fn totp_steps_only_move_forward(db: Database) {
    let repo = users(&db);
    let ann = create(&db, "ann").await;
    assert!(!repo.use_totp_step(ann.id, 101).await.unwrap(), "no steps while TOTP is off");
    enable(&db, ann.id, vec![]).await;
    assert!(!repo.use_totp_step(ann.id, 100).await.unwrap(), "the enabling code is spent");
    assert!(!repo.use_totp_step(ann.id, 99).await.unwrap(), "an older code is refused");
    assert!(repo.use_totp_step(ann.id, 101).await.unwrap());
    assert!(!repo.use_totp_step(ann.id, 101).await.unwrap(), "the same code twice is refused");
    assert!(repo.use_totp_step(ann.id, 103).await.unwrap());
}

async fn recovery_codes_work_once_even_concurrently(db: Database) {
    let repo = users(&db);
    let ann = create(&db, "ann").await;
    let bob = create(&db, "bob").await;
    let codes: Vec<RecoveryCode> = (0..10).map(|_| RecoveryCode::generate()).collect();
    enable(&db, ann.id, codes.iter().map(RecoveryCode::hash).collect()).await;

    assert!(!repo.use_recovery_code(bob.id, &codes[0].hash(), now()).await.unwrap(), "codes are per user");
    assert!(repo.use_recovery_code(ann.id, &codes[0].hash(), now()).await.unwrap());
    assert!(!repo.use_recovery_code(ann.id, &codes[0].hash(), now()).await.unwrap(), "a code works once");
    assert!(!repo.use_recovery_code(ann.id, &TokenHash::of("made-up"), now()).await.unwrap());
    assert_eq!(repo.recovery_codes_left(ann.id).await.unwrap(), 9);

    let repo = Arc::new(repo);
    let hash = codes[1].hash();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (repo, hash) = (repo.clone(), hash.clone());
            tokio::spawn(async move { repo.use_recovery_code(ann.id, &hash, now()).await.unwrap() })
        })
        .collect();
    let mut winners = HashSet::new();
    for (i, racer) in racers.into_iter().enumerate() {
        if racer.await.unwrap() {
            winners.insert(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent use succeeds");
    assert_eq!(repo.recovery_codes_left(ann.id).await.unwrap(), 8);
}

async fn second_factor_locks_after_the_limit(db: Database) {
    let repo = users(&db);
    let ann = create(&db, "ann").await;
    let until = instant();
    assert_eq!(repo.record_second_factor_failure(ann.id, 3, until).await.unwrap(), None, "no TOTP, nothing to lock");
    enable(&db, ann.id, vec![]).await;

    assert_eq!(repo.record_second_factor_failure(ann.id, 3, until).await.unwrap(), None);
    assert_eq!(repo.record_second_factor_failure(ann.id, 3, until).await.unwrap(), None);
    repo.clear_second_factor_failures(ann.id).await.unwrap();
    assert_eq!(repo.record_second_factor_failure(ann.id, 3, until).await.unwrap(), None, "a right code starts over");
    assert_eq!(repo.record_second_factor_failure(ann.id, 3, until).await.unwrap(), None);
    assert_eq!(repo.record_second_factor_failure(ann.id, 3, until).await.unwrap(), Some(until));
    assert_eq!(repo.totp_state(ann.id).await.unwrap().unwrap().locked_until, Some(until));

    // Concurrent guesses are all counted: of 3 × limit, exactly 3 lock.
    let repo = Arc::new(repo);
    let racers: Vec<_> = (0..9)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.record_second_factor_failure(ann.id, 3, until).await.unwrap().is_some() })
        })
        .collect();
    let mut locks = 0;
    for racer in racers {
        locks += usize::from(racer.await.unwrap());
    }
    assert_eq!(locks, 3);
    repo.clear_second_factor_failures(ann.id).await.unwrap();
    assert_eq!(repo.totp_state(ann.id).await.unwrap().unwrap().locked_until, None);
}

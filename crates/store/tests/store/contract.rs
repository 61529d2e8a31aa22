//! The behaviour contract of the Diesel adapters, run against SQLite always and PostgreSQL when it
//! is reachable (and always under `CI=true`).
//!
//! Each case is written once, as `async fn case(db: Database)`, and `engine_cases!` generates a
//! `sqlite` and a `postgres` test for it, so that both engines are held to the same port
//! contract (`crates/users/src/ports.rs`).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_store::engine_cases;
use workbench_store::testing::{TestDatabase, execute_sql, postgres_admin_url};
use workbench_store::{Backend, Database, DieselRefreshTokenStore, DieselUserRepository, PoolOptions, StoreError};
use workbench_users::{
    Email, NewRefreshToken, NewUser, ProfileChanges, RefreshToken, RefreshTokenStore, Role, TokenHash, User, UserId,
    UserQuery, UserRepository, UserStatus, Username, now,
};

engine_cases!(
    create_then_find,
    timestamps_round_trip_exactly,
    taken_email_or_username_conflicts,
    list_pages_ordered_by_id,
    list_only_active_and_exclude,
    first_matching_is_the_first_page_without_a_total,
    search_is_case_insensitive_including_non_ascii,
    search_wildcards_are_literal,
    search_email_only_when_asked,
    update_profile_applies_clears_and_keeps,
    update_profile_username_rules,
    writes_with_an_expected_version_need_the_current_one,
    role_and_status,
    password_hash_is_replaced,
    delete_cascades_to_refresh_tokens,
    refresh_token_insert_and_find,
    rotate_marks_used_and_stores_next,
    rotate_refuses_used_revoked_or_unknown,
    revoke_family_only_that_family,
    revoke_all_for_user_only_that_user,
    concurrent_rotations_exactly_one_wins,
    concurrent_profile_changes_are_all_kept,
);
engine_cases!(fresh: migrations_apply_once);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn users(db: &Database) -> DieselUserRepository {
    DieselUserRepository::new(db.clone())
}

fn tokens(db: &Database) -> DieselRefreshTokenStore {
    DieselRefreshTokenStore::new(db.clone())
}

/// A new user `name` with email `name@example.com` and password hash `hash-of-name`.
fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).expect("a valid test username"),
        email: Email::parse(format!("{name}@example.com")).expect("a valid test email"),
        password_hash: Some(format!("hash-of-{name}")),
        role: Role::User,
        created_at: now(),
    }
}

async fn create(repo: &DieselUserRepository, name: &str) -> User {
    repo.create(new_user(name)).await.expect("the user is created")
}

/// Creates a user and sets their first and last name.
async fn create_named(repo: &DieselUserRepository, name: &str, first: Option<&str>, last: Option<&str>) -> User {
    let user = create(repo, name).await;
    let changes = ProfileChanges {
        first_name: Some(first.map(str::to_owned)),
        last_name: Some(last.map(str::to_owned)),
        ..ProfileChanges::default()
    };
    repo.update_profile(user.id, changes, now(), None).await.expect("the profile updates").expect("the user exists")
}

fn page(page: u64, per_page: u64) -> PageRequest {
    PageRequest::new(Some(page), Some(per_page)).unwrap()
}

/// Everyone, in one page.
fn everyone() -> UserQuery {
    UserQuery { page: page(1, 100), ..UserQuery::default() }
}

fn search(term: &str) -> UserQuery {
    UserQuery { search: Some(term.to_owned()), ..everyone() }
}

async fn list(repo: &DieselUserRepository, query: UserQuery) -> Page<User> {
    repo.list(query).await.expect("the list loads")
}

/// The usernames of a page, in order.
fn usernames(page: &Page<User>) -> Vec<&str> {
    page.items.iter().map(|u| u.username.as_str()).collect()
}

/// The usernames a search finds.
async fn found(repo: &DieselUserRepository, query: UserQuery) -> Vec<String> {
    let page = list(repo, query).await;
    assert_eq!(page.total, page.items.len() as u64, "total counts exactly the matching users");
    usernames(&page).into_iter().map(str::to_owned).collect()
}

/// A fixed instant with a non-zero, leading-zero microsecond part.
fn instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + TimeDelta::microseconds(1_234)
}

fn later(at: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    at + TimeDelta::seconds(seconds)
}

fn family() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new refresh token of `user` in `family`, created at `at` and valid for 30 days.
fn new_token(user: UserId, family: &str, at: DateTime<Utc>) -> NewRefreshToken {
    NewRefreshToken {
        user_id: user,
        family_id: family.to_owned(),
        hash: RefreshToken::generate().hash(),
        signed_in_at: at,
        created_at: at,
        expires_at: at + TimeDelta::days(30),
        provider_session: None,
    }
}

/// Stores a token and returns its hash and id.
async fn insert_token(store: &DieselRefreshTokenStore, token: NewRefreshToken) -> (TokenHash, i64) {
    let hash = token.hash.clone();
    store.insert(token, vec![]).await.expect("the token is stored");
    let id = store.find(&hash).await.unwrap().expect("a stored token is found").id;
    (hash, id)
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, RepositoryError>, expected: &str) {
    match result {
        Err(RepositoryError::Conflict { field }) => assert_eq!(field, expected, "conflict names the taken field"),
        other => panic!("expected Conflict {{ field: {expected:?} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

async fn create_then_find(db: Database) {
    let repo = users(&db);
    let at = now();
    let created = repo
        .create(NewUser {
            username: Username::parse("Alice").unwrap(),
            email: Email::parse("Alice@Example.COM").unwrap(),
            password_hash: Some("$2b$12$hash".to_owned()),
            role: Role::Moderator,
            created_at: at,
        })
        .await
        .unwrap();
    assert_eq!(created.username, "Alice", "the username keeps its case");
    assert_eq!(created.email, "alice@example.com");
    assert_eq!(created.role, Role::Moderator);
    assert_eq!(created.status, UserStatus::Active, "new accounts are active");
    assert_eq!(
        (&created.first_name, &created.last_name, &created.bio, &created.avatar_url),
        (&None, &None, &None, &None)
    );
    assert!(!created.totp_enabled);
    assert_eq!((created.created_at, created.updated_at), (at, at));

    assert_eq!(repo.find(created.id).await.unwrap(), Some(created.clone()));
    let email = Email::parse("alice@example.com").unwrap();
    assert_eq!(repo.find_for_login(&email).await.unwrap(), Some((created.clone(), Some("$2b$12$hash".to_owned()))));

    // An account without a password (OAuth only) is found for login, without a hash.
    let oauth = repo.create(NewUser { password_hash: None, ..new_user("oauth") }).await.unwrap();
    assert_ne!(oauth.id, created.id);
    let oauth_email = Email::parse("oauth@example.com").unwrap();
    assert_eq!(repo.find_for_login(&oauth_email).await.unwrap(), Some((oauth, None)));

    assert_eq!(repo.find(UserId(created.id.0 + 1000)).await.unwrap(), None);
    let unknown = Email::parse("nobody@example.com").unwrap();
    assert_eq!(repo.find_for_login(&unknown).await.unwrap(), None);
}

async fn timestamps_round_trip_exactly(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    // A fixed instant whose microseconds have leading zeros, a whole second, and the clock.
    for (i, at) in [instant(), Utc.with_ymd_and_hms(2030, 12, 31, 23, 59, 59).unwrap(), now()].into_iter().enumerate() {
        let user = repo.create(NewUser { created_at: at, ..new_user(&format!("clock{i}")) }).await.unwrap();
        assert_eq!((user.created_at, user.updated_at), (at, at), "create returns the instant it was given");
        let found = repo.find(user.id).await.unwrap().unwrap();
        assert_eq!((found.created_at, found.updated_at), (at, at), "the stored instant reads back exactly");

        let token = new_token(user.id, &family(), at);
        let expires = token.expires_at;
        let (hash, _) = insert_token(&store, token).await;
        assert_eq!(store.find(&hash).await.unwrap().unwrap().expires_at, expires);
    }
}

async fn taken_email_or_username_conflicts(db: Database) {
    let repo = users(&db);
    let alice = create(&repo, "alice").await;

    let same_email = NewUser { username: Username::parse("bob").unwrap(), ..new_user("alice") };
    assert_conflict(repo.create(same_email).await, "email");

    let same_name_other_case = NewUser { username: Username::parse("ALIce").unwrap(), ..new_user("dave") };
    assert_conflict(repo.create(same_name_other_case).await, "username");

    // Nothing was stored by the refused attempts, and the free names are still free.
    let page = list(&repo, everyone()).await;
    assert_eq!(page.items, vec![alice]);
    create(&repo, "bob").await;
    create(&repo, "dave").await;
}

async fn list_pages_ordered_by_id(db: Database) {
    let repo = users(&db);
    let empty = list(&repo, UserQuery { page: page(1, 2), ..UserQuery::default() }).await;
    assert_eq!((empty.items.len(), empty.total, empty.pages()), (0, 0, 0));

    // Created in an order that is neither alphabetical nor reverse-alphabetical.
    let mut ids = Vec::new();
    for name in ["mia", "zed", "amy", "kim", "bob"] {
        ids.push(create(&repo, name).await.id);
    }
    let mut seen = Vec::new();
    for (n, expected_len) in [(1, 2), (2, 2), (3, 1)] {
        let p = list(&repo, UserQuery { page: page(n, 2), ..UserQuery::default() }).await;
        assert_eq!((p.total, p.pages()), (5, 3), "page {n}");
        assert_eq!(p.items.len(), expected_len, "page {n}");
        assert_eq!(p.request, page(n, 2));
        seen.extend(p.items.iter().map(|u| u.id));
    }
    assert_eq!(seen, ids, "pages are consecutive slices ordered by id");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase in creation order");

    let beyond = list(&repo, UserQuery { page: page(4, 2), ..UserQuery::default() }).await;
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5, "a page past the end still reports the total");

    let all = list(&repo, everyone()).await;
    assert_eq!(usernames(&all), ["mia", "zed", "amy", "kim", "bob"]);
    assert_eq!(all.items[0], repo.find(ids[0]).await.unwrap().unwrap(), "listed users are complete");
}

async fn list_only_active_and_exclude(db: Database) {
    let repo = users(&db);
    let ann = create(&repo, "ann").await;
    let ben = create(&repo, "ben").await;
    let cat = create(&repo, "cat").await;
    repo.set_role_and_status(ben.id, None, Some(UserStatus::Disabled), now(), None, vec![]).await.unwrap().unwrap();

    assert_eq!(found(&repo, everyone()).await, ["ann", "ben", "cat"]);
    assert_eq!(found(&repo, UserQuery { only_active: true, ..everyone() }).await, ["ann", "cat"]);
    assert_eq!(found(&repo, UserQuery { exclude: Some(cat.id), ..everyone() }).await, ["ann", "ben"]);
    let both = UserQuery { only_active: true, exclude: Some(ann.id), ..everyone() };
    assert_eq!(found(&repo, both).await, ["cat"]);

    // The total counts the filtered list, not the table.
    let paged = list(&repo, UserQuery { only_active: true, page: page(1, 1), ..UserQuery::default() }).await;
    assert_eq!((usernames(&paged), paged.total, paged.pages()), (vec!["ann"], 2, 2));
}

async fn first_matching_is_the_first_page_without_a_total(db: Database) {
    let repo = users(&db);
    for name in ["ann", "anna", "bob", "joanne"] {
        create(&repo, name).await;
    }
    let query = UserQuery { page: page(1, 2), ..search("ann") };
    let first = repo.first_matching(query.clone()).await.unwrap();
    assert_eq!(first.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["ann", "anna"]);
    assert_eq!(first, list(&repo, query).await.items, "the list's first page");
    let all = repo.first_matching(UserQuery { page: page(1, 10), ..search("ann") }).await.unwrap();
    assert_eq!(all.len(), 3);
}

async fn search_is_case_insensitive_including_non_ascii(db: Database) {
    let repo = users(&db);
    create_named(&repo, "summer", Some("Été"), Some("Øster")).await;
    create_named(&repo, "MixedCase", None, Some("Lee")).await;
    create_named(&repo, "plain", Some("Ete"), Some("Oster")).await;

    for term in ["été", "ÉTÉ", "Été", "tÉ", "øster", "ØSTER"] {
        assert_eq!(found(&repo, search(term)).await, ["summer"], "searching {term:?}");
    }
    for term in ["mixedcase", "XEDCA", "lee", "LEE"] {
        assert_eq!(found(&repo, search(term)).await, ["MixedCase"], "searching {term:?}");
    }
    assert_eq!(found(&repo, search("SUMM")).await, ["summer"], "the username is searched too");
    assert_eq!(found(&repo, search("ete")).await, ["plain"], "accents are not ignored");
    assert_eq!(found(&repo, search("e")).await, ["summer", "MixedCase", "plain"]);
    assert!(found(&repo, search("nobody")).await.is_empty());
    assert!(found(&repo, search("example.com")).await.is_empty(), "emails are not searched by default");

    // A cleared name is no longer found.
    let summer = list(&repo, search("summer")).await.items.remove(0);
    let clear = ProfileChanges { first_name: Some(None), ..ProfileChanges::default() };
    repo.update_profile(summer.id, clear, now(), None).await.unwrap().unwrap();
    assert!(found(&repo, search("été")).await.is_empty());
    assert_eq!(found(&repo, search("ØSTER")).await, ["summer"]);
}

async fn search_wildcards_are_literal(db: Database) {
    let repo = users(&db);
    create_named(&repo, "a_b1", None, None).await;
    create_named(&repo, "axb2", None, None).await;
    create_named(&repo, "pct", Some("100% sure"), None).await;
    create_named(&repo, "num", Some("100 and 1 sure"), None).await;
    create_named(&repo, "slash", Some("back\\slash"), None).await;
    create_named(&repo, "kslash", Some("backslash"), None).await;

    assert_eq!(found(&repo, search("a_b")).await, ["a_b1"], "'_' is not a one-character wildcard");
    assert_eq!(found(&repo, search("_")).await, ["a_b1"]);
    assert_eq!(found(&repo, search("100%")).await, ["pct"], "'%' is not a wildcard");
    assert_eq!(found(&repo, search("0% s")).await, ["pct"]);
    assert_eq!(found(&repo, search("%")).await, ["pct"]);
    assert_eq!(found(&repo, search("k\\s")).await, ["slash"], "'\\' is not an escape character");
    assert_eq!(found(&repo, search("\\")).await, ["slash"]);
}

async fn search_email_only_when_asked(db: Database) {
    let repo = users(&db);
    let carol = repo
        .create(NewUser { email: Email::parse("carol.zz@mailhost.io").unwrap(), ..new_user("carol") })
        .await
        .unwrap();
    let dan =
        repo.create(NewUser { email: Email::parse("dan@mailhost.io").unwrap(), ..new_user("dan") }).await.unwrap();
    create(&repo, "mailhost_fan").await;

    let by_email = |term: &str| UserQuery { search_email: true, ..search(term) };
    assert!(found(&repo, search("carol.zz")).await.is_empty(), "search_email false does not match emails");
    assert_eq!(found(&repo, by_email("carol.zz")).await, ["carol"]);
    assert_eq!(found(&repo, by_email("MAILHOST.IO")).await, ["carol", "dan"]);
    assert_eq!(found(&repo, search("mailhost")).await, ["mailhost_fan"]);
    assert_eq!(found(&repo, by_email("mailhost")).await, ["carol", "dan", "mailhost_fan"], "names still match");
    assert!(found(&repo, by_email("%")).await.is_empty(), "'%' stays literal in emails");

    // The other filters still apply to an email match.
    repo.set_role_and_status(dan.id, None, Some(UserStatus::Disabled), now(), None, vec![]).await.unwrap().unwrap();
    assert_eq!(found(&repo, UserQuery { only_active: true, ..by_email("mailhost.io") }).await, ["carol"]);
    assert_eq!(found(&repo, UserQuery { exclude: Some(carol.id), ..by_email("mailhost.io") }).await, ["dan"]);
}

async fn update_profile_applies_clears_and_keeps(db: Database) {
    let repo = users(&db);
    let t0 = instant();
    let user = repo.create(NewUser { created_at: t0, ..new_user("ann") }).await.unwrap();

    let t1 = later(t0, 60);
    let all = ProfileChanges {
        username: None,
        first_name: Some(Some("Ann".into())),
        last_name: Some(Some("Lee".into())),
        bio: Some(Some("Writes things.".into())),
        avatar_url: Some(Some("https://cdn.example.com/ann.png".into())),
    };
    let updated = repo.update_profile(user.id, all, t1, None).await.unwrap().expect("the user exists");
    assert_eq!(updated.first_name.as_deref(), Some("Ann"));
    assert_eq!(updated.last_name.as_deref(), Some("Lee"));
    assert_eq!(updated.bio.as_deref(), Some("Writes things."));
    assert_eq!(updated.avatar_url.as_deref(), Some("https://cdn.example.com/ann.png"));
    assert_eq!((updated.username.as_str(), updated.email.as_str()), ("ann", "ann@example.com"));
    assert_eq!((updated.created_at, updated.updated_at), (t0, t1), "updated_at advances, created_at stays");
    assert_eq!(repo.find(user.id).await.unwrap(), Some(updated.clone()), "the change is stored");

    let t2 = later(t1, 60);
    let clear_first_and_bio = ProfileChanges { first_name: Some(None), bio: Some(None), ..ProfileChanges::default() };
    let cleared = repo.update_profile(user.id, clear_first_and_bio, t2, None).await.unwrap().unwrap();
    assert_eq!(cleared.first_name, None, "Some(None) clears");
    assert_eq!(cleared.bio, None, "Some(None) clears");
    assert_eq!(cleared.last_name.as_deref(), Some("Lee"), "None keeps");
    assert_eq!(cleared.avatar_url.as_deref(), Some("https://cdn.example.com/ann.png"), "None keeps");
    assert_eq!(cleared.updated_at, t2);
    assert_eq!(repo.find(user.id).await.unwrap(), Some(cleared.clone()));

    // No changes at all still keeps everything.
    let t3 = later(t2, 60);
    let same = repo.update_profile(user.id, ProfileChanges::default(), t3, None).await.unwrap().unwrap();
    assert_eq!(User { updated_at: t2, version: cleared.version, ..same.clone() }, cleared);
    assert_eq!(same.updated_at, t3);

    // The password hash is untouched by profile changes.
    assert_eq!(repo.password_hash(user.id).await.unwrap().as_deref(), Some("hash-of-ann"));

    let unknown = UserId(user.id.0 + 1000);
    let change = ProfileChanges { first_name: Some(Some("Ghost".into())), ..ProfileChanges::default() };
    assert_eq!(repo.update_profile(unknown, change, t3, None).await.unwrap(), None);
}

/// `If-Match` on accounts: a write naming a version applies only while the account is at it,
/// and every write moves the version on, whichever column it changes.
async fn writes_with_an_expected_version_need_the_current_one(db: Database) {
    let repo = users(&db);
    let t0 = instant();
    let ann = repo.create(NewUser { created_at: t0, ..new_user("ann") }).await.unwrap();
    assert_eq!(repo.find(ann.id).await.unwrap().unwrap().version, ann.version, "the version reads back exactly");
    let bio = |text: &str| ProfileChanges { bio: Some(Some(text.into())), ..ProfileChanges::default() };

    let first = repo.update_profile(ann.id, bio("first"), later(t0, 1), Some(ann.version)).await.unwrap().unwrap();
    assert_ne!(first.version, ann.version);
    assert_eq!(repo.update_profile(ann.id, bio("second"), later(t0, 2), Some(ann.version)).await.unwrap(), None);
    assert_eq!(
        repo.find(ann.id).await.unwrap().unwrap().bio.as_deref(),
        Some("first"),
        "a stale write changes nothing"
    );

    let stale = repo.set_role_and_status(ann.id, Some(Role::Moderator), None, later(t0, 3), Some(ann.version), vec![]);
    assert_eq!(stale.await.unwrap(), None);
    let promoted =
        repo.set_role_and_status(ann.id, Some(Role::Moderator), None, later(t0, 4), Some(first.version), vec![]);
    let promoted = promoted.await.unwrap().unwrap();
    assert_eq!(promoted.role, Role::Moderator);
    assert_ne!(promoted.version, first.version);

    repo.change_password(ann.id, "hash-2".into(), later(t0, 5), vec![]).await.unwrap();
    let now_at = repo.find(ann.id).await.unwrap().unwrap().version;
    assert_ne!(now_at, promoted.version, "a password change is a change too");
    assert!(!repo.delete(ann.id, Some(promoted.version), vec![]).await.unwrap(), "a stale delete deletes nothing");
    assert!(repo.find(ann.id).await.unwrap().is_some());
    assert!(repo.delete(ann.id, Some(now_at), vec![]).await.unwrap());
    assert_eq!(repo.find(ann.id).await.unwrap(), None);
}

async fn update_profile_username_rules(db: Database) {
    let repo = users(&db);
    let ann = create_named(&repo, "ann", Some("Ann"), None).await;
    let bob = create(&repo, "bob").await;
    let rename =
        |name: &str| ProfileChanges { username: Some(Username::parse(name).unwrap()), ..ProfileChanges::default() };

    // Taken, in any case: a conflict, and nothing about ann changes.
    let attempt = ProfileChanges { first_name: Some(Some("Changed".into())), ..rename("BOB") };
    assert_conflict(repo.update_profile(ann.id, attempt, later(now(), 5), None).await, "username");
    assert_eq!(repo.find(ann.id).await.unwrap(), Some(ann.clone()), "a refused change changes nothing");
    assert_eq!(repo.find(bob.id).await.unwrap(), Some(bob.clone()));

    // Re-casing one's own name is not a conflict.
    let recased = repo.update_profile(ann.id, rename("ANN"), now(), None).await.unwrap().unwrap();
    assert_eq!(recased.username, "ANN");

    // A rename frees the old name, takes the new one, and is what search sees.
    let renamed = repo.update_profile(ann.id, rename("annabel"), now(), None).await.unwrap().unwrap();
    assert_eq!(renamed.username, "annabel");
    assert_eq!(repo.find(ann.id).await.unwrap().unwrap().username, "annabel");
    assert_eq!(found(&repo, search("ANNAB")).await, ["annabel"]);
    assert_eq!(found(&repo, search("ann")).await, ["annabel"], "the first name is still searchable");
    let newcomer = NewUser { username: Username::parse("Ann").unwrap(), ..new_user("newcomer") };
    assert_eq!(repo.create(newcomer).await.unwrap().username, "Ann", "the old name is free again");
    assert_conflict(
        repo.create(NewUser { username: Username::parse("ANNABEL").unwrap(), ..new_user("x1y") }).await,
        "username",
    );
    assert_conflict(repo.update_profile(bob.id, rename("annabel"), now(), None).await, "username");
}

async fn role_and_status(db: Database) {
    let repo = users(&db);
    let user = repo.create(NewUser { created_at: instant(), ..new_user("ann") }).await.unwrap();
    let other = create(&repo, "bob").await;

    let t1 = later(instant(), 10);
    let promoted = repo.set_role_and_status(user.id, Some(Role::Admin), None, t1, None, vec![]).await.unwrap().unwrap();
    assert_eq!((promoted.role, promoted.status, promoted.updated_at), (Role::Admin, UserStatus::Active, t1));

    let t2 = later(t1, 10);
    let disabled =
        repo.set_role_and_status(user.id, None, Some(UserStatus::Disabled), t2, None, vec![]).await.unwrap().unwrap();
    assert_eq!((disabled.role, disabled.status, disabled.updated_at), (Role::Admin, UserStatus::Disabled, t2));
    assert_eq!(repo.find(user.id).await.unwrap(), Some(disabled.clone()));
    assert_eq!(disabled.created_at, instant());

    let t3 = later(t2, 10);
    let both = repo
        .set_role_and_status(user.id, Some(Role::SuperAdmin), Some(UserStatus::Active), t3, None, vec![])
        .await
        .unwrap();
    let both = both.unwrap();
    assert_eq!((both.role, both.status), (Role::SuperAdmin, UserStatus::Active));
    assert_eq!(repo.find(other.id).await.unwrap(), Some(other.clone()), "only that user changes");

    for role in Role::ALL {
        let user = repo.set_role_and_status(other.id, Some(role), None, now(), None, vec![]).await.unwrap().unwrap();
        assert_eq!(repo.find(user.id).await.unwrap().unwrap().role, role, "{role} is stored and read back");
    }

    let unknown = UserId(user.id.0 + 1000);
    assert_eq!(repo.set_role_and_status(unknown, Some(Role::Admin), None, now(), None, vec![]).await.unwrap(), None);
}

async fn password_hash_is_replaced(db: Database) {
    let repo = users(&db);
    let ann = create(&repo, "ann").await;
    let bob = create(&repo, "bob").await;
    let oauth = repo.create(NewUser { password_hash: None, ..new_user("oauth") }).await.unwrap();

    assert_eq!(repo.password_hash(ann.id).await.unwrap().as_deref(), Some("hash-of-ann"));
    assert_eq!(repo.password_hash(oauth.id).await.unwrap(), None);
    assert_eq!(repo.password_hash(UserId(ann.id.0 + 1000)).await.unwrap(), None);

    let at = later(now(), 30);
    repo.change_password(ann.id, "new-hash".into(), at, vec![]).await.unwrap();
    assert_eq!(repo.password_hash(ann.id).await.unwrap().as_deref(), Some("new-hash"));
    let email = Email::parse("ann@example.com").unwrap();
    let (user, hash) = repo.find_for_login(&email).await.unwrap().unwrap();
    assert_eq!((hash.as_deref(), user.updated_at), (Some("new-hash"), at));
    assert_eq!(repo.password_hash(bob.id).await.unwrap().as_deref(), Some("hash-of-bob"), "only that user");

    repo.change_password(oauth.id, "first-hash".into(), now(), vec![]).await.unwrap();
    assert_eq!(repo.password_hash(oauth.id).await.unwrap().as_deref(), Some("first-hash"));
}

async fn delete_cascades_to_refresh_tokens(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    let ann = create(&repo, "ann").await;
    let bob = create(&repo, "bob").await;
    let (ann_token, _) = insert_token(&store, new_token(ann.id, &family(), now())).await;
    let (ann_used, ann_used_id) = insert_token(&store, new_token(ann.id, &family(), now())).await;
    assert!(store.rotate(ann_used_id, new_token(ann.id, &family(), now()), now()).await.unwrap());
    let (bob_token, _) = insert_token(&store, new_token(bob.id, &family(), now())).await;

    assert!(repo.delete(ann.id, None, vec![]).await.unwrap(), "the first delete finds the user");
    assert_eq!(repo.find(ann.id).await.unwrap(), None);
    assert_eq!(repo.find_for_login(&Email::parse("ann@example.com").unwrap()).await.unwrap(), None);
    assert!(!repo.delete(ann.id, None, vec![]).await.unwrap(), "the second delete finds nothing");

    assert_eq!(store.find(&ann_token).await.unwrap(), None, "the user's tokens go with them");
    assert_eq!(store.find(&ann_used).await.unwrap(), None);
    assert!(store.find(&bob_token).await.unwrap().is_some(), "other users' tokens stay");
    assert_eq!(found(&repo, everyone()).await, ["bob"]);

    // The email and username are free again.
    create(&repo, "ann").await;
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens
// ---------------------------------------------------------------------------------------------

async fn refresh_token_insert_and_find(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    let ann = create(&repo, "ann").await;
    let fam = family();
    let token = new_token(ann.id, &fam, instant());
    let hash = token.hash.clone();
    store.insert(token, vec![]).await.unwrap();

    let record = store.find(&hash).await.unwrap().expect("the token is found by its hash");
    assert_eq!((record.user_id, record.family_id.as_str()), (ann.id, fam.as_str()));
    assert_eq!(record.expires_at, instant() + TimeDelta::days(30));
    assert_eq!((record.used_at, record.revoked_at), (None, None));

    let second = new_token(ann.id, &fam, instant());
    let second_hash = second.hash.clone();
    store.insert(second, vec![]).await.unwrap();
    let second = store.find(&second_hash).await.unwrap().unwrap();
    assert_ne!(second.id, record.id);

    assert_eq!(store.find(&RefreshToken::generate().hash()).await.unwrap(), None);
    assert_eq!(store.find(&TokenHash::of("")).await.unwrap(), None);

    // A token of a user that does not exist is refused as a missing reference.
    let orphan = new_token(UserId(ann.id.0 + 1000), &family(), now());
    let orphan_hash = orphan.hash.clone();
    match store.insert(orphan, vec![]).await {
        Err(RepositoryError::MissingReference { .. }) => {}
        other => panic!("expected MissingReference, got {other:?}"),
    }
    assert_eq!(store.find(&orphan_hash).await.unwrap(), None);
}

async fn rotate_marks_used_and_stores_next(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    let ann = create(&repo, "ann").await;
    let fam = family();
    let (old_hash, old_id) = insert_token(&store, new_token(ann.id, &fam, instant())).await;

    let at = later(instant(), 120);
    let next = new_token(ann.id, &fam, at);
    let next_hash = next.hash.clone();
    assert!(store.rotate(old_id, next, at).await.unwrap(), "a fresh token rotates");

    let old = store.find(&old_hash).await.unwrap().unwrap();
    assert_eq!((old.used_at, old.revoked_at), (Some(at), None), "the old token is marked used at `at`");
    let new = store.find(&next_hash).await.unwrap().expect("the next token is stored");
    assert_eq!((new.user_id, new.family_id.as_str()), (ann.id, fam.as_str()), "same user, same family");
    assert_eq!((new.used_at, new.revoked_at, new.expires_at), (None, None, at + TimeDelta::days(30)));
    assert_ne!(new.id, old.id);

    // The next token rotates in turn.
    let at2 = later(at, 120);
    let third = new_token(ann.id, &fam, at2);
    let third_hash = third.hash.clone();
    assert!(store.rotate(new.id, third, at2).await.unwrap());
    assert_eq!(store.find(&next_hash).await.unwrap().unwrap().used_at, Some(at2));
    assert!(store.find(&third_hash).await.unwrap().is_some());
}

async fn rotate_refuses_used_revoked_or_unknown(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    let ann = create(&repo, "ann").await;

    // Used: the second rotation of the same token fails and stores nothing.
    let fam = family();
    let (old_hash, old_id) = insert_token(&store, new_token(ann.id, &fam, now())).await;
    let first_at = later(now(), 1);
    assert!(store.rotate(old_id, new_token(ann.id, &fam, now()), first_at).await.unwrap());
    let again = new_token(ann.id, &fam, now());
    let again_hash = again.hash.clone();
    assert!(!store.rotate(old_id, again, later(now(), 60)).await.unwrap(), "a used token does not rotate twice");
    assert_eq!(store.find(&again_hash).await.unwrap(), None, "a refused rotation stores nothing");
    assert_eq!(store.find(&old_hash).await.unwrap().unwrap().used_at, Some(first_at), "used_at is not moved");

    // Revoked: refused, not marked used, nothing stored.
    let fam = family();
    let (revoked_hash, revoked_id) = insert_token(&store, new_token(ann.id, &fam, now())).await;
    store.revoke_family(&fam, now(), vec![]).await.unwrap();
    let next = new_token(ann.id, &fam, now());
    let next_hash = next.hash.clone();
    assert!(!store.rotate(revoked_id, next, now()).await.unwrap(), "a revoked token does not rotate");
    assert_eq!(store.find(&next_hash).await.unwrap(), None);
    assert_eq!(store.find(&revoked_hash).await.unwrap().unwrap().used_at, None);

    // Unknown id: refused, nothing stored.
    let next = new_token(ann.id, &family(), now());
    let next_hash = next.hash.clone();
    assert!(!store.rotate(revoked_id + 1000, next, now()).await.unwrap());
    assert_eq!(store.find(&next_hash).await.unwrap(), None);
}

async fn revoke_family_only_that_family(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    let ann = create(&repo, "ann").await;
    let (a, b) = (family(), family());
    let (a1, a1_id) = insert_token(&store, new_token(ann.id, &a, now())).await;
    let a2 = new_token(ann.id, &a, now());
    let a2_hash = a2.hash.clone();
    assert!(store.rotate(a1_id, a2, now()).await.unwrap());
    let (b1, _) = insert_token(&store, new_token(ann.id, &b, now())).await;

    let at = later(instant(), 5);
    store.revoke_family(&a, at, vec![]).await.unwrap();
    for hash in [&a1, &a2_hash] {
        assert_eq!(store.find(hash).await.unwrap().unwrap().revoked_at, Some(at), "used or not, the family is revoked");
    }
    assert_eq!(store.find(&b1).await.unwrap().unwrap().revoked_at, None, "another family is untouched");

    // Only tokens not revoked yet are revoked: a second revocation keeps the first instant.
    store.revoke_family(&a, later(at, 60), vec![]).await.unwrap();
    assert_eq!(store.find(&a1).await.unwrap().unwrap().revoked_at, Some(at));

    store.revoke_family(&family(), now(), vec![]).await.unwrap();
    assert_eq!(store.find(&b1).await.unwrap().unwrap().revoked_at, None, "an unknown family revokes nothing");
}

async fn revoke_all_for_user_only_that_user(db: Database) {
    let repo = users(&db);
    let store = tokens(&db);
    let ann = create(&repo, "ann").await;
    let bob = create(&repo, "bob").await;
    let shared = family();
    let mut ann_tokens = Vec::new();
    for fam in [family(), family(), shared.clone()] {
        ann_tokens.push(insert_token(&store, new_token(ann.id, &fam, now())).await.0);
    }
    let (bob_token, _) = insert_token(&store, new_token(bob.id, &family(), now())).await;
    // Revoked earlier: keeps its instant.
    let earlier = instant();
    let (early_hash, _) = insert_token(&store, new_token(ann.id, &shared, now())).await;
    store.revoke_family(&shared, earlier, vec![]).await.unwrap();

    let at = later(instant(), 3600);
    store.revoke_all_for_user(ann.id, at).await.unwrap();
    for (i, hash) in ann_tokens.iter().enumerate() {
        let expected = if i == 2 { earlier } else { at };
        assert_eq!(store.find(hash).await.unwrap().unwrap().revoked_at, Some(expected), "ann's token {i}");
    }
    assert_eq!(store.find(&early_hash).await.unwrap().unwrap().revoked_at, Some(earlier));
    assert_eq!(store.find(&bob_token).await.unwrap().unwrap().revoked_at, None, "bob's token is untouched");
}

/// Eight requests race with the same token, several rounds in a row: exactly one wins each round,
/// none fails (no `SQLITE_BUSY`), and only the winner's next token is stored.
async fn concurrent_rotations_exactly_one_wins(db: Database) {
    const RACERS: usize = 8;
    let repo = users(&db);
    let store = Arc::new(tokens(&db));
    let ann = create(&repo, "ann").await;
    let fam = family();
    let (_, mut current) = insert_token(&store, new_token(ann.id, &fam, now())).await;

    for round in 0..5 {
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut racers = tokio::task::JoinSet::new();
        for _ in 0..RACERS {
            let (store, barrier, fam) = (Arc::clone(&store), Arc::clone(&barrier), fam.clone());
            racers.spawn(async move {
                let next = new_token(ann.id, &fam, now());
                let hash = next.hash.clone();
                barrier.wait().await;
                let won = store.rotate(current, next, now()).await;
                (won, hash)
            });
        }
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        while let Some(joined) = racers.join_next().await {
            let (won, hash) = joined.expect("the task completes");
            match won {
                Ok(true) => winners.push(hash),
                Ok(false) => losers.push(hash),
                Err(e) => panic!("round {round}: a racing rotation failed: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one rotation wins");
        for hash in &losers {
            assert_eq!(store.find(hash).await.unwrap(), None, "round {round}: a losing rotation stores nothing");
        }
        let winner = store.find(&winners[0]).await.unwrap().expect("the winner's token is stored");
        assert_eq!((winner.used_at, winner.family_id.as_str()), (None, fam.as_str()));
        current = winner.id;
    }
}

/// Requests changing different fields of one profile at the same time: "`None` keeps it" must hold
/// for each of them, so every change survives (no lost update from a stale read).
async fn concurrent_profile_changes_are_all_kept(db: Database) {
    let repo = Arc::new(users(&db));
    for round in 0..5 {
        let user = create(&repo, &format!("racer{round}")).await;
        let changes = [
            ProfileChanges { first_name: Some(Some("First".into())), ..ProfileChanges::default() },
            ProfileChanges { last_name: Some(Some("Last".into())), ..ProfileChanges::default() },
            ProfileChanges { bio: Some(Some("Bio".into())), ..ProfileChanges::default() },
            ProfileChanges {
                avatar_url: Some(Some("https://cdn.example.com/a.png".into())),
                ..ProfileChanges::default()
            },
        ];
        let barrier = Arc::new(tokio::sync::Barrier::new(changes.len()));
        let mut racers = tokio::task::JoinSet::new();
        for change in changes {
            let (repo, barrier) = (Arc::clone(&repo), Arc::clone(&barrier));
            racers.spawn(async move {
                barrier.wait().await;
                repo.update_profile(user.id, change, now(), None).await
            });
        }
        while let Some(joined) = racers.join_next().await {
            joined.expect("the task completes").expect("the update succeeds").expect("the user exists");
        }
        let user = repo.find(user.id).await.unwrap().unwrap();
        let fields = (user.first_name.as_deref(), user.last_name.as_deref(), user.bio.as_deref());
        assert_eq!(fields, (Some("First"), Some("Last"), Some("Bio")), "round {round}");
        assert_eq!(user.avatar_url.as_deref(), Some("https://cdn.example.com/a.png"), "round {round}");
        let racers: Vec<String> = (0..=round).map(|i| format!("racer{i}")).collect();
        assert_eq!(found(&repo, search("FIRST")).await, racers, "search text is in step with the first name");
        assert_eq!(found(&repo, search("LAST")).await, racers, "search text is in step with the last name");
    }
}

// ---------------------------------------------------------------------------------------------
// Migrations and connecting
// ---------------------------------------------------------------------------------------------

async fn migrations_apply_once(t: &TestDatabase) {
    let options = PoolOptions { max_size: 2, ..PoolOptions::default_for(t.backend()) };
    let db = Database::connect(t.url(), options).expect("the database opens");
    let applied = db.migrate().expect("the first run applies");
    assert!(!applied.is_empty(), "a fresh database has migrations to apply");
    assert_eq!(applied.len(), applied.iter().collect::<HashSet<_>>().len(), "each version once");
    assert_eq!(db.migrate().expect("the second run succeeds"), Vec::<String>::new(), "nothing left to apply");
    db.ping().await.expect("the database answers");

    // Another pool on the same database finds nothing to do either, and the schema works.
    let again = Database::connect(t.url(), options).expect("the database opens again");
    assert_eq!(again.migrate().unwrap(), Vec::<String>::new());
    create(&users(&again), "ann").await;
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Whether the test PostgreSQL server answers; a loud skip (or, under CI, a failure) otherwise.
fn postgres_reachable() -> bool {
    // Creating (and dropping) a test database is the same reachability check the suite uses.
    TestDatabase::postgres().is_some()
}

mod migrations_concurrently {
    use super::*;

    /// Several instances starting at once against a fresh database: every one succeeds, and each
    /// migration is applied exactly once (the advisory lock serialises them).
    #[test]
    fn postgres() {
        for _ in 0..3 {
            let Some(t) = TestDatabase::postgres() else { return };
            let options = PoolOptions { max_size: 2, ..PoolOptions::default_for(Backend::Postgres) };
            let instances: Vec<Database> =
                (0..2).map(|_| Database::connect(t.url(), options).expect("the database opens")).collect();
            let barrier = std::sync::Barrier::new(instances.len());
            let results: Vec<Result<Vec<String>, StoreError>> = std::thread::scope(|s| {
                let racers: Vec<_> = instances
                    .iter()
                    .map(|db| {
                        s.spawn(|| {
                            barrier.wait();
                            db.migrate()
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().expect("the thread completes")).collect()
            });
            let applied: Vec<Vec<String>> =
                results.into_iter().map(|r| r.expect("every concurrent migration succeeds")).collect();
            let non_empty = applied.iter().filter(|v| !v.is_empty()).count();
            assert_eq!(non_empty, 1, "exactly one instance applies the migrations: {applied:?}");

            let db = t.connect();
            assert_eq!(db.migrate().unwrap(), Vec::<String>::new());
        }
    }
}

mod pool_replaces_connections_the_server_closed {
    use super::*;

    /// Runs `sql` (which returns one row per affected backend) and returns the row count.
    async fn run_sql(db: &Database, sql: &'static str) -> usize {
        execute_sql(db, sql).await.expect("the statement runs")
    }

    /// A server restart, failover or idle timeout closes pooled connections. The pool must not
    /// keep handing them out: requests after the server is back all succeed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        const CONCURRENT: usize = 8;
        let Some(t) = TestDatabase::postgres() else { return };
        let db = t.connect();
        let repo = users(&db);
        let ann = create(&repo, "ann").await;

        let finds = |repo: &DieselUserRepository| {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..CONCURRENT {
                let repo = repo.clone();
                set.spawn(async move { repo.find(ann.id).await });
            }
            set
        };
        // Fill the pool, then close every connection but the one asking.
        let mut warm = finds(&repo);
        while let Some(joined) = warm.join_next().await {
            joined.unwrap().expect("the warm-up succeeds");
        }
        assert!(db.pool_state().idle > 1, "several connections are pooled: {:?}", db.pool_state());
        // The two-argument form (PostgreSQL 14+) returns once each backend has really exited.
        let killed = run_sql(
            &db,
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await;
        assert!(killed > 0, "some pooled connections were closed");

        for round in 0..5 {
            let mut batch = finds(&repo);
            while let Some(joined) = batch.join_next().await {
                let found = joined.unwrap();
                assert!(matches!(found, Ok(Some(_))), "round {round}: a request after the restart failed: {found:?}");
            }
        }
    }
}

mod connect_error_names_the_cause {
    use super::*;

    #[test]
    fn postgres() {
        if !postgres_reachable() {
            return;
        }
        let url = with_database(&postgres_admin_url(), "no_such_db_xyz");
        let options = PoolOptions::default_for(Backend::Postgres);
        let err = Database::connect(&url, options).expect_err("a missing database cannot be opened");
        let message = err.to_string();
        assert!(message.contains(r#"database "no_such_db_xyz" does not exist"#), "{message}");
        assert!(!message.contains("invalid connection url"), "{message}");
    }

    #[test]
    fn sqlite() {
        // A data directory that cannot be created: its would-be parent is a regular file.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, b"").unwrap();
        let url = file.join("data").join("workbench.db").display().to_string();
        let err = Database::connect(&url, PoolOptions::default_for(Backend::Sqlite)).expect_err("cannot open");
        let message = err.to_string();
        assert!(message.contains("not-a-directory"), "the message names the path: {message}");
        assert!(!message.contains("invalid connection url"), "{message}");
    }
}

//! Data repairs in migrations, on SQLite always and PostgreSQL when it is reachable (always under
//! `CI=true`): a repair migration runs once, over whatever its rules left behind before they
//! existed. Each case here leaves that state behind on a migrated database (past the rules, in
//! SQL), runs the repair's `up.sql` over it, and checks that exactly the leftovers were repaired,
//! and that running it again changes nothing.

use diesel::connection::SimpleConnection;
use workbench_chat::{ChatStore, Conversation, HistoryPage, MessageContent, NewMessage};
use workbench_core::RepositoryError;
use workbench_projects::{InviteToken, NewInvite, NewProject, ProjectName, ProjectRepository, ProjectRole};
use workbench_store::testing::{count_rows, execute_sql, file, instant, user, user_with_role};
use workbench_store::{Backend, Database, DieselChatStore, DieselProjectRepository, engine_cases};
use workbench_users::{Role, User, UserId};

engine_cases!(access_that_outlived_the_right_ends);

/// Runs the `up.sql` of a migration, as its engine's copy says.
async fn repair(db: &Database, postgres: &'static str, sqlite: &'static str) {
    let sql = match db.backend() {
        Backend::Postgres => postgres,
        Backend::Sqlite => sqlite,
    };
    db.run(move |conn| conn.batch_execute(sql).map_err(|e| RepositoryError::Unavailable(e.into()))).await.unwrap();
}

/// An open trade from `proposer` to `recipient`, far from its expiry; its id.
async fn open_trade(db: &Database, id: i64, proposer: &User, recipient: &User) -> i64 {
    let sql = format!(
        "INSERT INTO trades (id, proposer_id, recipient_id, status, expires_at, version, created_at, updated_at) \
         VALUES ({id}, {}, {}, 'open', '2999-01-01 00:00:00', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        proposer.id.0, recipient.id.0
    );
    execute_sql(db, sql).await.unwrap();
    id
}

async fn cancelled(db: &Database, id: i64) -> bool {
    count_rows(db, &format!("trades WHERE id = {id} AND status = 'cancelled'")).await == 1
}

async fn access_that_outlived_the_right_ends(db: Database) {
    let (ann, bob, cid) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cid").await);
    let root = user_with_role(&db, "root", Role::Admin).await;

    // Ann was disabled before disabling cancelled trades: hers stay open; Bob's and Cid's is theirs.
    let (hers, to_her, apart) = (
        open_trade(&db, 1, &ann, &bob).await,
        open_trade(&db, 2, &cid, &ann).await,
        open_trade(&db, 3, &bob, &cid).await,
    );
    execute_sql(&db, format!("UPDATE users SET status = 'disabled' WHERE id = {}", ann.id.0)).await.unwrap();

    // Bob sent Cid two files; one of them changed hands (a traded item's) before trades took
    // files out of messages.
    let chat = DieselChatStore::new(db.clone());
    let (traded, kept) = (file(&db, 101, &bob).await, file(&db, 102, &bob).await);
    let dm = NewMessage {
        room: None,
        sender_id: bob.id,
        recipient_id: Some(cid.id),
        content: MessageContent::parse("the manuals").unwrap(),
        created_at: instant(),
        attachments: vec![traded, kept.clone()],
    };
    chat.insert_message(dm).await.unwrap();
    execute_sql(&db, format!("UPDATE files SET owner_id = {} WHERE id = 101", ann.id.0)).await.unwrap();

    // Bob, an admin of the kitchen, made an invitation and left before leaving took it away; Cid's
    // (a member) and Root's (a platform admin, no member) stay.
    let projects = DieselProjectRepository::new(db.clone());
    let new = NewProject {
        name: ProjectName::parse("Kitchen").unwrap(),
        description: None,
        owner_id: cid.id,
        created_at: instant(),
    };
    let kitchen = projects.create(new).await.unwrap().id;
    projects.add_member(kitchen, bob.id, ProjectRole::Admin, instant()).await.unwrap();
    let invite = |token: &str, by: UserId| NewInvite {
        project_id: kitchen,
        role: ProjectRole::Admin,
        max_uses: None,
        token_digest: InviteToken::digest(token),
        expires_at: instant() + chrono::TimeDelta::hours(1),
        created_by: by,
        created_at: instant(),
    };
    projects.create_invite(invite("bobs", bob.id)).await.unwrap();
    let cids = projects.create_invite(invite("cids", cid.id)).await.unwrap();
    let roots = projects.create_invite(invite("roots", root.id)).await.unwrap();
    execute_sql(&db, format!("DELETE FROM project_members WHERE user_id = {}", bob.id.0)).await.unwrap();

    for _ in 0..2 {
        repair(
            &db,
            include_str!("../../../../migrations/postgres/2026-12-11-000046_access_that_outlived_the_right/up.sql"),
            include_str!("../../../../migrations/sqlite/2026-12-11-000046_access_that_outlived_the_right/up.sql"),
        )
        .await;

        assert!(cancelled(&db, hers).await && cancelled(&db, to_her).await, "both sides");
        assert!(!cancelled(&db, apart).await, "others' trades are not hers");
        let events = "outbox WHERE event = 'trade.cancelled' AND subject_id IN (1, 2) AND payload LIKE '%cancelled%'";
        assert_eq!(count_rows(&db, events).await, 2, "each cancelled once, with its event");

        let history = chat.history(Conversation::direct(bob.id, cid.id), HistoryPage::latest(10)).await.unwrap();
        let carried = chat.attachments(history.iter().map(|m| m.id).collect()).await.unwrap();
        assert_eq!(carried.get(&history[0].id), Some(&vec![kept.clone()]));
        assert_eq!(count_rows(&db, "chat_attachments").await, 1, "the row of the traded file is gone");

        let left = projects.invites(kitchen, workbench_core::PageRequest::new(None, None).unwrap()).await.unwrap();
        let mut ids: Vec<_> = left.items.iter().map(|i| i.id).collect();
        ids.sort_by_key(|id| id.0);
        assert_eq!(ids, [cids.id, roots.id]);
    }
}

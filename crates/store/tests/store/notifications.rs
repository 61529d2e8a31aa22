//! Notifications in the store: a notice for a thousand recipients is one batch that counts
//! each recipient's notification once; marks move the unread counter by exactly what they
//! read; follows and preferences are replaced, not duplicated. Run against SQLite always and
//! PostgreSQL when reachable (always under `CI=true`).

use chrono::Utc;
use workbench_core::PageRequest;
use workbench_notifications::{
    EmailDelivery, Follow, Kind, NewNotifications, NotificationId, NotificationRepository, Preference, ReadMark,
    Subject,
};
use workbench_store::testing::{count_rows, execute_sql, user};
use workbench_store::{Database, DieselNotificationRepository, engine_cases};
use workbench_users::UserId;

engine_cases!(
    a_notice_for_a_thousand_recipients_counts_each_once,
    marks_move_the_unread_counter_by_what_they_read,
    follows_and_preferences_are_replaced_not_added,
    digests_wait_from_their_first_notification_and_are_taken_once,
);

/// `n` active users (ids above 10,000), inserted in one statement.
async fn many_users(db: &Database, n: i64) -> Vec<UserId> {
    let rows: Vec<String> = (1..=n)
        .map(|i| {
            let id = 10_000 + i;
            format!(
                "({id}, 'follower{i}', 'follower{i}', 'follower{i}@example.com', 'x', 'user', 'active', FALSE, \
                 'follower{i}', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"
            )
        })
        .collect();
    execute_sql(
        db,
        format!(
            "INSERT INTO users (id, username, username_key, email, password_hash, role, status, totp_enabled, \
             search_text, created_at, updated_at, token_generation) VALUES {}",
            rows.join(", ")
        ),
    )
    .await
    .expect("the users are inserted");
    (1..=n).map(|i| UserId(10_000 + i)).collect()
}

fn notice(recipients: Vec<UserId>, actor: Option<UserId>) -> NewNotifications {
    NewNotifications {
        recipients,
        kind: Kind::StatusChanged,
        actor_id: actor,
        subject: Subject::task(7),
        title: "\u{201c}Paint\u{201d} is now completed".into(),
        body: "pending \u{2192} completed".into(),
        created_at: Utc::now(),
        daily: Vec::new(),
    }
}

async fn a_notice_for_a_thousand_recipients_counts_each_once(db: Database) {
    let repo = DieselNotificationRepository::new(db.clone());
    let actor = user(&db, "ann").await.id;
    let followers = many_users(&db, 1_000).await;
    let stored = repo.create(notice(followers.clone(), Some(actor))).await.unwrap();
    assert_eq!(stored.len(), 1_000);
    let mut recipients: Vec<UserId> = stored.iter().map(|n| n.recipient_id).collect();
    recipients.sort();
    assert_eq!(recipients, followers, "each once");
    assert_eq!(count_rows(&db, "notifications").await, 1_000);

    for follower in [followers[0], followers[999]] {
        let inbox = repo.inbox(follower, false, PageRequest::first()).await.unwrap();
        assert_eq!((inbox.page.total, inbox.unread_count, inbox.page.items.len()), (1, 1, 1));
        assert_eq!(inbox.page.items[0].subject, Subject::task(7));
        assert_eq!(inbox.page.items[0].actor_id, Some(actor));
    }
    // A second notice adds one to each counter.
    repo.create(notice(followers[..10].to_vec(), None)).await.unwrap();
    let inbox = repo.inbox(followers[0], false, PageRequest::first()).await.unwrap();
    assert_eq!((inbox.page.total, inbox.unread_count), (2, 2));
    assert_eq!(inbox.page.items[0].actor_id, None, "newest first");
    let inbox = repo.inbox(followers[500], true, PageRequest::first()).await.unwrap();
    assert_eq!((inbox.page.total, inbox.unread_count), (1, 1));
}

async fn marks_move_the_unread_counter_by_what_they_read(db: Database) {
    let repo = DieselNotificationRepository::new(db.clone());
    let (ann, bob) = (user(&db, "ann").await.id, user(&db, "bob").await.id);
    let mut mine = Vec::new();
    for _ in 0..4 {
        mine.push(repo.create(notice(vec![bob], Some(ann))).await.unwrap()[0].id);
    }
    let anns = repo.create(notice(vec![ann], Some(bob))).await.unwrap()[0].id;
    let at = Utc::now();

    let mark = ReadMark { up_to_id: Some(mine[1]), ids: vec![mine[3], anns] };
    assert_eq!(repo.mark_read(bob, mark.clone(), at).await.unwrap(), 1, "three of his read, Ann's untouched");
    assert_eq!(repo.mark_read(bob, mark, at).await.unwrap(), 1, "read again: nothing moves");
    let unread = repo.inbox(bob, true, PageRequest::first()).await.unwrap();
    assert_eq!(unread.page.items.iter().map(|n| n.id).collect::<Vec<_>>(), [mine[2]]);
    assert_eq!(repo.inbox(ann, true, PageRequest::first()).await.unwrap().unread_count, 1);

    let everything = ReadMark::default();
    assert_eq!(repo.mark_read(bob, everything.clone(), at).await.unwrap(), 0);
    assert_eq!(repo.mark_read(bob, everything, at).await.unwrap(), 0);
    let all = repo.inbox(bob, false, PageRequest::first()).await.unwrap();
    assert_eq!((all.page.total, all.unread_count), (4, 0));
    assert!(all.page.items.iter().all(|n| n.read_at.is_some()));
    let nobody = UserId(987_654);
    assert_eq!(
        repo.mark_read(nobody, ReadMark { up_to_id: Some(NotificationId(1)), ids: vec![] }, at).await.unwrap(),
        0
    );
}

async fn follows_and_preferences_are_replaced_not_added(db: Database) {
    let repo = DieselNotificationRepository::new(db.clone());
    let bob = user(&db, "bob").await.id;
    let task = Subject::task(3);
    for following in [true, false, true, false] {
        repo.follow(Follow { user_id: bob, subject: task, following }, Utc::now()).await.unwrap();
    }
    repo.follow(Follow { user_id: bob, subject: Subject::project(3), following: true }, Utc::now()).await.unwrap();
    let follows = repo.follows_of(vec![task]).await.unwrap();
    assert_eq!(follows, [Follow { user_id: bob, subject: task, following: false }]);
    assert_eq!(repo.follows_of(vec![task, Subject::project(3)]).await.unwrap().len(), 2);

    let quiet = Preference { in_app: false, email: EmailDelivery::Off };
    let daily = Preference { in_app: true, email: EmailDelivery::Daily };
    repo.set_preferences(bob, vec![(Kind::Assigned, quiet)]).await.unwrap();
    repo.set_preferences(bob, vec![(Kind::Assigned, daily), (Kind::Reminder, quiet)]).await.unwrap();
    let mut set = repo.preferences(vec![bob]).await.unwrap();
    set.sort_by_key(|(_, kind, _)| *kind);
    assert_eq!(set, [(bob, Kind::Assigned, daily), (bob, Kind::Reminder, quiet)]);
    assert_eq!(repo.users_named(vec!["BOB".into(), "nobody".into()]).await.unwrap(), [bob]);
}

async fn digests_wait_from_their_first_notification_and_are_taken_once(db: Database) {
    let repo = DieselNotificationRepository::new(db.clone());
    let (ann, bob, cat) = (user(&db, "ann").await.id, user(&db, "bob").await.id, user(&db, "cat").await.id);
    let mut first = notice(vec![bob, cat], Some(ann));
    first.daily = vec![bob, cat];
    let made = repo.create(first).await.unwrap();
    let mut second = notice(vec![bob, cat], Some(ann));
    second.daily = vec![bob];
    let later = repo.create(second).await.unwrap();
    let cats_later = later.iter().find(|n| n.recipient_id == cat).unwrap().id;
    let since = |user: UserId| made.iter().find(|n| n.recipient_id == user).unwrap().id;

    let mut taken = repo.take_digests(10).await.unwrap();
    taken.sort();
    // From each one's first notification (or an earlier id of the same batch: a digest reads
    // only its user's own).
    assert_eq!(taken.iter().map(|(user, _)| *user).collect::<Vec<_>>(), [bob, cat]);
    assert!(taken.iter().all(|(user, from)| *from <= since(*user) && *from >= made[0].id.min(made[1].id)));
    assert!(repo.take_digests(10).await.unwrap().is_empty(), "taken once");

    let waiting = repo.digest_of(bob, since(bob), 10).await.unwrap();
    assert_eq!(waiting.len(), 2);
    let ids: Vec<NotificationId> = waiting.iter().map(|n| n.id).collect();
    repo.mark_read(bob, ReadMark { up_to_id: None, ids: vec![ids[1]] }, Utc::now()).await.unwrap();
    assert_eq!(repo.digest_of(bob, since(bob), 10).await.unwrap().len(), 1, "read ones are not mailed");
    repo.mark_all_mailed(vec![ids[0]], Utc::now()).await.unwrap();
    assert!(repo.digest_of(bob, since(bob), 10).await.unwrap().is_empty(), "nor mailed ones");
    assert_eq!(
        repo.digest_of(cat, since(cat), 10).await.unwrap().iter().map(|n| n.id).collect::<Vec<_>>(),
        [since(cat), cats_later]
    );
}

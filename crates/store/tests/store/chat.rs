//! The chat adapter, on SQLite always and PostgreSQL when it is reachable (always under
//! `CI=true`), held to the `ChatStore` contract (`crates/chat/src/ports.rs`): rooms with their
//! creator as first member, taken slugs, who sees which room, members added once, contacts for
//! presence (room mates, and direct partners who have written both ways), and history pages read backwards (`before`) and forwards (`after`).

use workbench_chat::{
    AttachedFile, ChatStore, Conversation, Counterpart, HistoryPage, Marked, MessageContent, MessageId, NewMessage,
    NewRoom, RoomSlug,
};
use workbench_core::PageRequest;
use workbench_core::RepositoryError;
use workbench_store::testing::{count_rows, execute_sql, file, instant, user, user_with_role};
use workbench_store::{Database, DieselChatStore, DieselUserRepository, engine_cases};
use workbench_users::{User, UserId, UserRepository};

engine_cases!(
    a_room_round_trips_and_its_creator_is_a_member,
    a_taken_slug_is_a_conflict_on_name,
    private_rooms_are_listed_only_to_their_members,
    a_member_is_added_once_and_must_exist,
    contacts_are_room_mates_and_direct_partners,
    a_direct_message_makes_contacts_only_once_it_is_answered,
    history_pages_backwards_and_forwards,
    messages_sent_at_once_are_each_stored_once_and_a_bad_one_fails_alone,
    attachments_travel_with_their_message_and_open_files_to_its_readers_only,
    a_file_that_changed_hands_is_carried_by_no_message,
    a_search_counts_up_to_its_cap_and_still_pages_past_it,
    unread_counts_stay_exact_when_both_sides_write_at_once,
    a_search_finds_the_same_messages_however_far_its_index_has_come,
    a_deleted_user_takes_their_messages_with_them,
);

fn room(slug: &str, private: bool, by: &User) -> NewRoom {
    NewRoom {
        slug: RoomSlug::parse(slug).unwrap(),
        description: Some("About things".into()),
        is_private: private,
        created_by: by.id,
        created_at: instant(),
    }
}

fn said(room: Option<workbench_chat::RoomId>, by: UserId, to: Option<UserId>, text: &str) -> NewMessage {
    NewMessage {
        room,
        sender_id: by,
        recipient_id: to,
        content: MessageContent::parse(text).unwrap(),
        created_at: instant(),
        attachments: Vec::new(),
    }
}

async fn a_room_round_trips_and_its_creator_is_a_member(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let ann = user(&db, "ann").await;
    let created = store.create_room(room("ops", true, &ann)).await.unwrap();
    assert_eq!(created.slug.as_str(), "ops");
    assert_eq!(created.description.as_deref(), Some("About things"));
    assert!(created.is_private);
    assert_eq!((created.created_by, created.created_at), (ann.id, instant()));
    assert_eq!(store.find_room(&RoomSlug::parse("ops").unwrap()).await.unwrap(), Some(created.clone()));
    assert_eq!(store.find_room(&RoomSlug::parse("nope").unwrap()).await.unwrap(), None);
    assert!(store.is_member(created.id, ann.id).await.unwrap());
}

async fn a_taken_slug_is_a_conflict_on_name(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let ann = user(&db, "ann").await;
    store.create_room(room("general", false, &ann)).await.unwrap();
    let again = store.create_room(room("general", true, &ann)).await;
    assert!(matches!(again, Err(RepositoryError::Conflict { field: "name" })), "{again:?}");
}

async fn private_rooms_are_listed_only_to_their_members(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    store.create_room(room("public", false, &ann)).await.unwrap();
    store.create_room(room("secret", true, &ann)).await.unwrap();
    let slugs = |rooms: Vec<workbench_chat::Room>| rooms.into_iter().map(|r| r.slug.to_string()).collect::<Vec<_>>();
    assert_eq!(slugs(store.rooms_visible_to(Some(ann.id)).await.unwrap()), ["public", "secret"]);
    assert_eq!(slugs(store.rooms_visible_to(Some(bob.id)).await.unwrap()), ["public"]);
    assert_eq!(slugs(store.rooms_visible_to(None).await.unwrap()), ["public", "secret"]);
}

async fn a_member_is_added_once_and_must_exist(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let secret = store.create_room(room("secret", true, &ann)).await.unwrap();
    assert!(!store.is_member(secret.id, bob.id).await.unwrap());
    assert!(store.add_member(secret.id, bob.id, instant()).await.unwrap());
    assert!(!store.add_member(secret.id, bob.id, instant()).await.unwrap(), "a second add changes nothing");
    assert!(store.is_member(secret.id, bob.id).await.unwrap());
    let ghost = store.add_member(secret.id, UserId(9999), instant()).await;
    assert!(matches!(ghost, Err(RepositoryError::MissingReference { field: "user_id" })), "{ghost:?}");
}

async fn contacts_are_room_mates_and_direct_partners(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob, cy, dee, eve) = (
        user(&db, "ann").await,
        user(&db, "bob").await,
        user(&db, "cyd").await,
        user(&db, "deb").await,
        user(&db, "eve").await,
    );
    let ops = store.create_room(room("ops", false, &ann)).await.unwrap();
    store.add_member(ops.id, bob.id, instant()).await.unwrap();
    // Eve and Ann wrote to each other, several times; Bob, a room mate, too.
    for _ in 0..3 {
        store.insert_message(said(None, eve.id, Some(ann.id), "hi ann")).await.unwrap();
    }
    store.insert_message(said(None, ann.id, Some(eve.id), "hi eve")).await.unwrap();
    store.insert_message(said(None, ann.id, Some(bob.id), "hi bob")).await.unwrap();
    store.insert_message(said(None, bob.id, Some(ann.id), "hi ann")).await.unwrap();
    store.insert_message(said(None, ann.id, Some(ann.id), "a note to self")).await.unwrap();
    // Unanswered, either way.
    store.insert_message(said(None, cy.id, Some(ann.id), "hello ann")).await.unwrap();
    store.insert_message(said(None, ann.id, Some(dee.id), "hello dee")).await.unwrap();

    assert_eq!(store.contacts(ann.id).await.unwrap(), vec![bob.id, eve.id], "each once, by id, never herself");
    assert_eq!(store.contacts(bob.id).await.unwrap(), vec![ann.id]);
    assert_eq!(store.contacts(eve.id).await.unwrap(), vec![ann.id]);
    assert_eq!(store.contacts(cy.id).await.unwrap(), vec![]);
    assert_eq!(store.contacts(dee.id).await.unwrap(), vec![]);
}

/// Writing to someone is not enough to be their contact (and watch them come and go): they must
/// have written back.
async fn a_direct_message_makes_contacts_only_once_it_is_answered(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, mallory, dee) = (user(&db, "ann").await, user(&db, "mallory").await, user(&db, "deb").await);
    store.insert_message(said(None, mallory.id, Some(ann.id), "remember me?")).await.unwrap();
    let hello = store.insert_message(said(None, mallory.id, Some(ann.id), "hello?")).await.unwrap();
    store.insert_message(said(None, ann.id, Some(dee.id), "lunch?")).await.unwrap();
    // Reading is not answering.
    let direct = Conversation::direct(ann.id, mallory.id);
    store.mark_read(ann.id, direct, hello.id).await.unwrap();
    assert_eq!(store.contacts(ann.id).await.unwrap(), vec![], "neither the unsolicited nor the unanswered");
    assert_eq!(store.contacts(mallory.id).await.unwrap(), vec![]);
    assert_eq!(store.contacts(dee.id).await.unwrap(), vec![]);

    store.insert_message(said(None, ann.id, Some(mallory.id), "oh, hi")).await.unwrap();
    assert_eq!(store.contacts(ann.id).await.unwrap(), vec![mallory.id]);
    assert_eq!(store.contacts(mallory.id).await.unwrap(), vec![ann.id]);
}

async fn history_pages_backwards_and_forwards(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob, cy) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cyd").await);
    let ops = store.create_room(room("ops", false, &ann)).await.unwrap();
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(store.insert_message(said(Some(ops.id), ann.id, None, &format!("room {n}"))).await.unwrap().id);
        // Other conversations interleave; they must not leak into this one.
        store.insert_message(said(None, ann.id, Some(bob.id), &format!("to bob {n}"))).await.unwrap();
        store.insert_message(said(None, cy.id, Some(ann.id), &format!("from cy {n}"))).await.unwrap();
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow");
    let texts = |page: Vec<workbench_chat::Message>| page.into_iter().map(|m| m.content).collect::<Vec<_>>();
    let room = Conversation::Room(ops.id);

    assert_eq!(texts(store.history(room.clone(), HistoryPage::latest(2)).await.unwrap()), ["room 4", "room 5"]);
    let before = HistoryPage { before: Some(ids[3]), after: None, limit: 2 };
    assert_eq!(texts(store.history(room.clone(), before).await.unwrap()), ["room 2", "room 3"]);
    let after = HistoryPage { before: None, after: Some(ids[1]), limit: 2 };
    assert_eq!(texts(store.history(room.clone(), after).await.unwrap()), ["room 3", "room 4"]);
    let window = HistoryPage { before: Some(ids[4]), after: Some(ids[1]), limit: 10 };
    assert_eq!(texts(store.history(room.clone(), window).await.unwrap()), ["room 3", "room 4"]);
    let past_the_end = HistoryPage { before: None, after: Some(MessageId(ids[4].0 + 1_000)), limit: 10 };
    assert!(store.history(room, past_the_end).await.unwrap().is_empty());

    let direct = store.history(Conversation::direct(bob.id, ann.id), HistoryPage::latest(3)).await.unwrap();
    assert_eq!(texts(direct.clone()), ["to bob 3", "to bob 4", "to bob 5"]);
    let first = &direct[0];
    assert_eq!(
        (first.sender_id, first.recipient_id, first.room, first.created_at),
        (ann.id, Some(bob.id), None, instant())
    );
    assert_eq!(store.history(Conversation::direct(bob.id, cy.id), HistoryPage::latest(3)).await.unwrap(), vec![]);
}

/// Messages arriving together are written together (see `DieselChatStore`): each caller still
/// gets its own stored message, and one that cannot be stored fails without taking the others.
async fn messages_sent_at_once_are_each_stored_once_and_a_bad_one_fails_alone(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let general = store.create_room(room("general", false, &ann)).await.unwrap();
    const BAD: usize = 151;
    let sends: Vec<_> = (0..300)
        .map(|n| {
            let message = match n {
                BAD => said(Some(workbench_chat::RoomId(i64::MAX)), ann.id, None, "to a room that is not there"),
                n if n % 2 == 0 => said(Some(general.id), ann.id, None, &format!("m{n}")),
                n => said(None, ann.id, Some(bob.id), &format!("m{n}")),
            };
            let store = store.clone();
            tokio::spawn(async move { store.insert_message(message).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for (n, send) in sends.into_iter().enumerate() {
        let outcome = send.await.unwrap();
        if n == BAD {
            assert!(outcome.is_err(), "a message to a missing room is refused: {outcome:?}");
            continue;
        }
        let message = outcome.unwrap();
        assert_eq!(message.content, format!("m{n}"), "each caller gets its own message back");
        assert_eq!(message.room.is_some(), n % 2 == 0);
        assert!(ids.insert(message.id), "ids are distinct");
    }
    let (room_messages, direct) = (
        whole_history(&store, Conversation::Room(general.id)).await,
        whole_history(&store, Conversation::Direct(ann.id, bob.id)).await,
    );
    assert_eq!((room_messages.len(), direct.len()), (150, 149), "every message stored once, the bad one not at all");
    assert!(room_messages.iter().chain(&direct).all(|m| ids.contains(&m.id)));
}

async fn attachments_travel_with_their_message_and_open_files_to_its_readers_only(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob, cat) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cat").await);
    let moderator = user_with_role(&db, "mod", workbench_users::Role::Moderator).await;
    let (a1, a2, b1) = (file(&db, 101, &ann).await, file(&db, 102, &ann).await, file(&db, 103, &bob).await);

    let mut owned = store.files_owned(ann.id, vec![101, 103, 999]).await.unwrap();
    owned.sort_by_key(|f| f.id);
    assert_eq!(owned, std::slice::from_ref(&a1), "only ann's own files, the others left out");

    // A direct message carries two files, in the order sent.
    let mut dm = said(None, ann.id, Some(bob.id), "the invoice and the photo");
    dm.attachments = vec![a2.clone(), a1.clone()];
    let dm = store.insert_message(dm).await.unwrap();
    assert_eq!(dm.attachments, [a2.clone(), a1.clone()]);
    let page = store.history(Conversation::direct(ann.id, bob.id), HistoryPage::latest(10)).await.unwrap();
    let found = store.attachments(page.iter().map(|m| m.id).collect()).await.unwrap();
    assert_eq!(found.get(&dm.id), Some(&vec![a2.clone(), a1.clone()]));

    // A private room's message: its members and moderators read it; a public room's: anyone.
    let secret = store.create_room(room("secret", true, &bob)).await.unwrap();
    let mut in_secret = said(Some(secret.id), bob.id, None, "the plan");
    in_secret.attachments = vec![b1.clone()];
    store.insert_message(in_secret).await.unwrap();
    let readable = |reader: &User, every_room: bool, file: i64| {
        let (store, reader) = (store.clone(), reader.id);
        async move { store.carries_readable(reader, every_room, file).await.unwrap() }
    };
    assert!(readable(&bob, false, 101).await, "the recipient of the direct message");
    assert!(!readable(&cat, false, 101).await, "nobody else");
    assert!(!readable(&cat, false, 103).await, "not a member of the private room");
    assert!(readable(&moderator, true, 103).await, "moderators read every room");
    assert!(!readable(&ann, false, 103).await);
    store.add_member(secret.id, ann.id, instant()).await.unwrap();
    assert!(readable(&ann, false, 103).await, "a member now");
    let open = store.create_room(room("open", false, &ann)).await.unwrap();
    let mut in_open = said(Some(open.id), ann.id, None, "for everyone");
    in_open.attachments = vec![a2.clone()];
    store.insert_message(in_open).await.unwrap();
    assert!(readable(&cat, false, 102).await, "a public room's message is anyone's to read");

    // Taken back: the tombstone carries nothing, and its readers lose the file with it.
    let tombstone = store.delete_message(dm.id, instant()).await.unwrap().unwrap();
    assert!(store.attachments(vec![tombstone.id]).await.unwrap().is_empty());
    assert!(!readable(&bob, false, 101).await, "the only message carrying it is gone");
    assert!(readable(&cat, false, 102).await, "the other message still carries its file");

    // A file that is not there (deleted meanwhile) stores nothing.
    let mut gone = said(None, ann.id, Some(bob.id), "a file that was deleted");
    gone.attachments = vec![AttachedFile { id: 999, ..a1.clone() }];
    let refused = store.insert_message(gone).await;
    assert!(matches!(refused, Err(RepositoryError::MissingReference { .. })), "{refused:?}");
    let after = store.history(Conversation::direct(ann.id, bob.id), HistoryPage::latest(10)).await.unwrap();
    assert_eq!(after.len(), 1, "only the tombstone: nothing else was stored");
}

/// A message carries a file only while its sender owns it: one stored while the file changed
/// hands (a traded item's files do), still naming it, neither shows it nor opens it to anyone.
async fn a_file_that_changed_hands_is_carried_by_no_message(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob, cat) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cat").await);
    let (manual, photo) = (file(&db, 101, &ann).await, file(&db, 102, &ann).await);
    let mut dm = said(None, ann.id, Some(bob.id), "the manual and the photo");
    dm.attachments = vec![manual, photo.clone()];
    let dm = store.insert_message(dm).await.unwrap();
    assert!(store.carries_readable(bob.id, false, 101).await.unwrap());

    execute_sql(&db, format!("UPDATE files SET owner_id = {} WHERE id = 101", cat.id.0)).await.unwrap();
    for reader in [&ann, &bob] {
        assert!(!store.carries_readable(reader.id, false, 101).await.unwrap(), "{}", reader.username);
        assert!(!store.carries_readable(reader.id, true, 101).await.unwrap(), "not for moderators either");
    }
    assert!(store.carries_readable(bob.id, false, 102).await.unwrap(), "the file still ann's is still carried");
    let carried = store.attachments(vec![dm.id]).await.unwrap();
    assert_eq!(carried.get(&dm.id), Some(&vec![photo]));
}

async fn a_search_counts_up_to_its_cap_and_still_pages_past_it(db: Database) {
    use workbench_chat::MessageSearch;
    use workbench_core::PageRequest;
    let store = DieselChatStore::new(db.clone());
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let cap = usize::try_from(MessageSearch::COUNT_CAP).unwrap();
    let sends: Vec<_> = (0..=cap)
        .map(|n| {
            let store = store.clone();
            let message = said(None, ann.id, Some(bob.id), &format!("kettle number {n}"));
            tokio::spawn(async move { store.insert_message(message).await.unwrap() })
        })
        .collect();
    for send in sends {
        send.await.unwrap();
    }
    let search = |page: u64| MessageSearch {
        reader: bob.id,
        text: "kettle".into(),
        within: None,
        before: None,
        page: PageRequest::new(Some(page), Some(20)).unwrap(),
    };
    let first = store.search(search(1)).await.unwrap();
    assert_eq!(first.total, MessageSearch::COUNT_CAP, "one more than the cap matches: counted up to it");
    assert_eq!(first.items.len(), 20);
    let past = store.search(search(51)).await.unwrap();
    assert_eq!(past.items.len(), 1, "the page past the cap is still read");
    let few = MessageSearch { text: "number 99".into(), ..search(1) };
    assert_eq!(store.search(few).await.unwrap().total, 11, "exact below the cap (99 and 990 to 999)");
    for text in ["paint the roof", "the roof paint", "paint the roofs"] {
        store.insert_message(said(None, bob.id, Some(ann.id), text)).await.unwrap();
    }
    let phrase = store.search(MessageSearch { text: "paint the roof".into(), ..search(1) }).await.unwrap();
    let found: Vec<&str> = phrase.items.iter().map(|f| f.message.content.as_str()).collect();
    assert_eq!(found, ["paint the roofs", "paint the roof"], "the phrase as written, newest first");
}

/// A conversation's whole history, oldest first, read forwards a page at a time.
async fn whole_history(store: &DieselChatStore, conversation: Conversation) -> Vec<workbench_chat::Message> {
    let page = HistoryPage { before: None, after: Some(MessageId(0)), limit: 100 };
    let (mut seen, mut next) = (Vec::new(), page);
    loop {
        let batch = store.history(conversation.clone(), next).await.unwrap();
        let Some(last) = batch.last() else { break };
        next = HistoryPage { after: Some(last.id), ..page };
        seen.extend(batch);
    }
    seen
}

/// Unread counts as a reader would count them: in one conversation's history (in id order),
/// the others' messages after the reader's own last one (they never marked anything read).
fn unread_after_own_last(history: &[workbench_chat::Message], reader: UserId) -> u64 {
    let own_last = history.iter().rposition(|m| m.sender_id == reader);
    let after = own_last.map_or(history, |i| &history[i + 1..]);
    after.iter().filter(|m| m.sender_id != reader).count() as u64
}

async fn unread_counts_stay_exact_when_both_sides_write_at_once(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let general = store.create_room(room("general", false, &ann)).await.unwrap();
    assert!(store.add_member(general.id, bob.id, instant()).await.unwrap());
    // Sent at once from both sides, so that batches mix senders, conversations and kinds.
    let sends: Vec<_> = (0..160)
        .map(|n| {
            let message = match n % 4 {
                0 => said(None, ann.id, Some(bob.id), &format!("a{n}")),
                1 => said(None, bob.id, Some(ann.id), &format!("b{n}")),
                2 => said(Some(general.id), ann.id, None, &format!("r{n}")),
                _ => said(Some(general.id), bob.id, None, &format!("r{n}")),
            };
            let store = store.clone();
            tokio::spawn(async move { store.insert_message(message).await.unwrap() })
        })
        .collect();
    for send in sends {
        send.await.unwrap();
    }
    let direct = whole_history(&store, Conversation::Direct(ann.id, bob.id)).await;
    let in_room = whole_history(&store, Conversation::Room(general.id)).await;
    assert_eq!((direct.len(), in_room.len()), (80, 80));
    let listed = |reader: UserId| {
        let store = store.clone();
        async move {
            let page = store.conversations(reader, PageRequest::new(None, None).unwrap()).await.unwrap();
            assert_eq!(page.total, 2, "a direct conversation and a room");
            page.items
                .into_iter()
                .map(|c| {
                    let kind = matches!(c.with, Counterpart::Room(_));
                    (kind, (c.last_message.id, c.unread))
                })
                .collect::<std::collections::HashMap<bool, (MessageId, u64)>>()
        }
    };
    for reader in [ann.id, bob.id] {
        let seen = listed(reader).await;
        assert_eq!(
            seen[&false],
            (direct.last().unwrap().id, unread_after_own_last(&direct, reader)),
            "{reader:?}'s direct conversation: its latest message, and the other's after their own last"
        );
        assert_eq!(seen[&true], (in_room.last().unwrap().id, unread_after_own_last(&in_room, reader)));
    }
    // Read up to the end: nothing unread; a mark never moves back.
    let last = direct.last().unwrap().id;
    let marked = store.mark_read(ann.id, Conversation::Direct(ann.id, bob.id), last).await.unwrap();
    let own_was_last = direct.last().unwrap().sender_id == ann.id;
    assert_eq!(marked, if own_was_last { Marked::Unchanged } else { Marked::Moved });
    assert_eq!(listed(ann.id).await[&false].1, 0);
    let first = direct.first().unwrap().id;
    let back = store.mark_read(ann.id, Conversation::Direct(ann.id, bob.id), first).await.unwrap();
    assert_eq!(back, Marked::Unchanged);
    assert_eq!(listed(ann.id).await[&false].1, 0);
    // A message after the mark counts again, for its reader only.
    store.insert_message(said(None, bob.id, Some(ann.id), "one more")).await.unwrap();
    assert_eq!(listed(ann.id).await[&false].1, 1);
    assert_eq!(listed(bob.id).await[&false].1, 0, "one's own message is never unread");
}

/// Every "kettle" message `reader` finds, newest first, read three at a time (so that pages
/// cross from the newest messages to those in PostgreSQL's index), with the total each page gave.
async fn found_kettles(store: &DieselChatStore, reader: UserId, text: &str) -> (Vec<String>, Vec<u64>) {
    use workbench_chat::MessageSearch;
    let (mut found, mut totals) = (Vec::new(), Vec::new());
    for page in 1.. {
        let search = MessageSearch {
            reader,
            text: text.into(),
            within: None,
            before: None,
            page: PageRequest::new(Some(page), Some(3)).unwrap(),
        };
        let result = store.search(search).await.unwrap();
        totals.push(result.total);
        if result.items.is_empty() {
            break;
        }
        found.extend(result.items.into_iter().map(|f| f.message.content));
    }
    (found, totals)
}

async fn a_search_finds_the_same_messages_however_far_its_index_has_come(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob, cy) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cyd").await);
    let general = store.create_room(room("general", false, &ann)).await.unwrap();
    assert!(store.add_member(general.id, bob.id, instant()).await.unwrap());
    let send = async |n: usize| {
        let message = match n % 3 {
            0 => said(None, ann.id, Some(bob.id), &format!("kettle {n}")),
            1 => said(Some(general.id), ann.id, None, &format!("kettle {n}")),
            _ => said(None, cy.id, Some(ann.id), &format!("kettle {n}")),
        };
        store.insert_message(message).await.unwrap()
    };
    let mut sent = Vec::new();
    for n in 0..9 {
        sent.push(send(n).await);
    }
    // Two instances bring the index up to date at once; then more messages follow it.
    let other = DieselChatStore::new(db.clone());
    let (one, two) = tokio::join!(store.catch_up_search_index(), other.catch_up_search_index());
    one.unwrap();
    two.unwrap();
    for n in 9..15 {
        sent.push(send(n).await);
    }
    let bobs: Vec<String> = (0..15).rev().filter(|n| n % 3 != 2).map(|n| format!("kettle {n}")).collect();
    let (found, totals) = found_kettles(&store, bob.id, "kettle").await;
    assert_eq!(found, bobs, "his direct messages and his room's, newest first, each once");
    assert!(totals.iter().all(|t| *t == 10), "every page counts all ten: {totals:?}");
    let (cyds, _) = found_kettles(&store, cy.id, "kettle").await;
    assert_eq!(cyds, ["kettle 14", "kettle 11", "kettle 8", "kettle 5", "kettle 2"], "only what cyd sent");

    // Edits and deletions count at once, indexed or not: 4 is in the index, 13 is not yet.
    for n in [4, 13] {
        let edited = MessageContent::parse(&format!("teapot {n}")).unwrap();
        store.edit_message(sent[n].id, edited, instant()).await.unwrap().unwrap();
    }
    store.delete_message(sent[3].id, instant()).await.unwrap().unwrap();
    store.delete_message(sent[12].id, instant()).await.unwrap().unwrap();
    let left: Vec<String> = bobs
        .iter()
        .filter(|k| !["kettle 3", "kettle 4", "kettle 12", "kettle 13"].contains(&k.as_str()))
        .cloned()
        .collect();
    assert_eq!(found_kettles(&store, bob.id, "kettle").await.0, left);
    assert_eq!(found_kettles(&store, bob.id, "teapot").await.0, ["teapot 13", "teapot 4"]);
    // Once the index holds everything, a search finds exactly the same.
    store.catch_up_search_index().await.unwrap();
    assert_eq!(found_kettles(&store, bob.id, "kettle").await.0, left);
    assert_eq!(found_kettles(&store, bob.id, "teapot").await.0, ["teapot 13", "teapot 4"]);
    if db.backend() == workbench_store::Backend::Postgres {
        // The index follows messages written slowly by itself, within a few turns.
        send(15).await;
        let indexed = |db: Database| async move { count_rows(&db, "chat_message_search").await };
        let before = indexed(db.clone()).await;
        for _ in 0..100 {
            if indexed(db.clone()).await > before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(indexed(db.clone()).await, before + 1, "the new message was indexed without being asked");
    }
}

/// Deleting a user deletes what they sent and received, and nothing else; a message to them
/// afterwards is refused, not stored for nobody (on PostgreSQL through the read marks' references:
/// `chat_messages` has none to users there).
async fn a_deleted_user_takes_their_messages_with_them(db: Database) {
    let store = DieselChatStore::new(db.clone());
    let (ann, bob, cy) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cyd").await);
    let general = store.create_room(room("general", false, &cy)).await.unwrap();
    store.insert_message(said(None, ann.id, Some(bob.id), "to bob")).await.unwrap();
    store.insert_message(said(None, bob.id, Some(ann.id), "to ann")).await.unwrap();
    store.insert_message(said(Some(general.id), ann.id, None, "ann in general")).await.unwrap();
    store.insert_message(said(Some(general.id), cy.id, None, "cy in general")).await.unwrap();
    store.insert_message(said(None, cy.id, Some(bob.id), "cy to bob")).await.unwrap();

    assert!(DieselUserRepository::new(db.clone()).delete(ann.id, None, vec![]).await.unwrap());
    let texts = |messages: Vec<workbench_chat::Message>| messages.into_iter().map(|m| m.content).collect::<Vec<_>>();
    assert!(whole_history(&store, Conversation::direct(ann.id, bob.id)).await.is_empty());
    assert_eq!(texts(whole_history(&store, Conversation::Room(general.id)).await), ["cy in general"]);
    assert_eq!(texts(whole_history(&store, Conversation::direct(cy.id, bob.id)).await), ["cy to bob"]);
    assert_eq!(count_rows(&db, "chat_messages").await, 2);

    let to_ann = store.insert_message(said(None, bob.id, Some(ann.id), "still there?")).await;
    assert!(matches!(to_ann, Err(RepositoryError::MissingReference { .. })), "{to_ann:?}");
    let from_ann = store.insert_message(said(Some(general.id), ann.id, None, "back")).await;
    assert!(matches!(from_ann, Err(RepositoryError::MissingReference { .. })), "{from_ann:?}");
    assert_eq!(count_rows(&db, "chat_messages").await, 2, "neither was stored");
}

//! The use cases: reading and marking one's notifications, preferences and follows, and
//! delivering a notice to those it concerns.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use workbench_core::{PageRequest, Validator};
use workbench_users::{Principal, UserId};

use crate::error::NotificationError;
use crate::model::{
    EmailDelivery, Follow, Inbox, Kind, NewNotifications, Notification, NotificationId, Preference, Preferences,
    ReadMark, Subject,
};
use crate::ports::{FollowsCache, MailQueue, NotificationPush, NotificationRepository};
use crate::unsubscribe::{Unsubscribe, UnsubscribeKey};

/// The most ids one mark names.
pub const MAX_MARKED_IDS: usize = 1_000;

/// Notifications: one user's inbox, and delivery to many.
#[derive(Clone)]
pub struct NotificationService {
    store: Arc<dyn NotificationRepository>,
    push: Arc<dyn NotificationPush>,
    /// Where instant e-mails are queued, when mail is set up (see [`Self::mailing`]).
    mail: Option<Arc<dyn MailQueue>>,
    /// What signs and checks one-click unsubscribe tokens.
    unsubscribe: Option<UnsubscribeKey>,
    /// Follows kept in process, when a cache is set up (see [`Self::caching_follows`]).
    follows: Option<Arc<dyn FollowsCache>>,
}

impl std::fmt::Debug for NotificationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationService").finish_non_exhaustive()
    }
}

/// A mark as the client sent it: ids not yet checked.
#[derive(Debug, Clone, Default)]
pub struct ReadDraft {
    /// Read this one and every older one.
    pub up_to_id: Option<i64>,
    /// Read these.
    pub ids: Option<Vec<i64>>,
    /// Fields the client sent with the wrong JSON type.
    pub type_failures: workbench_core::TypeFailures,
}

impl NotificationService {
    /// The service over its store and the sockets it pushes to.
    pub fn new(store: Arc<dyn NotificationRepository>, push: Arc<dyn NotificationPush>) -> Self {
        Self { store, push, mail: None, unsubscribe: None, follows: None }
    }

    /// The service reading follows through `cache` first.
    pub fn caching_follows(mut self, cache: Arc<dyn FollowsCache>) -> Self {
        self.follows = Some(cache);
        self
    }

    /// The service queuing instant e-mails on `mail`, and checking unsubscribe tokens with `key`.
    pub fn mailing(mut self, mail: Arc<dyn MailQueue>, key: UnsubscribeKey) -> Self {
        self.mail = Some(mail);
        self.unsubscribe = Some(key);
        self
    }

    /// Turns off the e-mail the one-click `token` names, for its user (no sign-in: the token is
    /// signed): one kind's, or every kind mailed in the daily digest. What it turned off. Using it
    /// again changes nothing.
    pub async fn unsubscribe(&self, token: &str) -> Result<Unsubscribe, NotificationError> {
        let key = self.unsubscribe.as_ref().ok_or(NotificationError::InvalidToken)?;
        let (user, scope) = key.verify(token).ok_or(NotificationError::InvalidToken)?;
        let current = Preferences::with(self.store.preferences(vec![user]).await?.into_iter().map(|(_, k, p)| (k, p)));
        let kinds: Vec<Kind> = match scope {
            Unsubscribe::Kind(kind) => vec![kind],
            Unsubscribe::Digest => {
                Kind::ALL.iter().copied().filter(|k| current.of(*k).email == EmailDelivery::Daily).collect()
            }
        };
        let off = kinds
            .into_iter()
            .map(|kind| (kind, Preference { in_app: current.of(kind).in_app, email: EmailDelivery::Off }));
        self.store.set_preferences(user, off.collect()).await?;
        Ok(scope)
    }

    /// A page of the caller's notifications, newest first, and their unread count.
    pub async fn inbox(
        &self,
        caller: &Principal,
        unread_only: bool,
        page: PageRequest,
    ) -> Result<Inbox, NotificationError> {
        Ok(self.store.inbox(caller.id, unread_only, page).await?)
    }

    /// Marks the caller's notifications read: `up_to_id` and every older one, and `ids`; all of
    /// them when the draft names none. Ids of others' notifications change nothing. The
    /// caller's other sockets hear `notification.read` with the unread count left.
    pub async fn mark_read(&self, caller: &Principal, draft: ReadDraft) -> Result<u64, NotificationError> {
        let mut v = Validator::seeded(draft.type_failures);
        if draft.up_to_id.is_some_and(|id| id < 1) {
            v.fail("up_to_id", "must be a notification id (1 or more)");
        }
        let ids = draft.ids.unwrap_or_default();
        if ids.iter().any(|id| *id < 1) {
            v.fail("ids", "must hold notification ids (1 or more)");
        }
        if ids.len() > MAX_MARKED_IDS {
            v.fail("ids", format!("may name at most {MAX_MARKED_IDS} notifications"));
        }
        v.finish()?;
        let mark = ReadMark {
            up_to_id: draft.up_to_id.map(NotificationId),
            ids: ids.into_iter().map(NotificationId).collect(),
        };
        let unread = self.store.mark_read(caller.id, mark.clone(), Utc::now()).await?;
        let data = json!({
            "up_to_id": mark.up_to_id,
            "ids": mark.ids,
            "all": mark.is_everything(),
            "unread_count": unread,
        });
        self.push.send(caller.id, "notification.read", data).await;
        Ok(unread)
    }

    /// The caller's preference for every kind.
    pub async fn preferences(&self, caller: &Principal) -> Result<Preferences, NotificationError> {
        let set = self.store.preferences(vec![caller.id]).await?;
        Ok(Preferences::with(set.into_iter().map(|(_, kind, preference)| (kind, preference))))
    }

    /// Changes the caller's preferences: `changes` maps kinds to `{in_app?, email?}`; what it
    /// leaves out stays. An unknown kind, field or value is refused, naming it, and nothing
    /// changes.
    pub async fn set_preferences(&self, caller: &Principal, changes: &Value) -> Result<Preferences, NotificationError> {
        let mut v = Validator::default();
        let current = self.preferences(caller).await?;
        let mut set = Vec::new();
        match changes.as_object() {
            None => v.fail("preferences", "must be an object of kinds"),
            Some(changes) => {
                for (name, change) in changes {
                    let Some(kind) = Kind::parse(name) else {
                        v.fail(name, "is not a notification kind");
                        continue;
                    };
                    if let Some(preference) = changed(&mut v, name, current.of(kind), change) {
                        set.push((kind, preference));
                    }
                }
            }
        }
        v.finish()?;
        self.store.set_preferences(caller.id, set).await?;
        self.preferences(caller).await
    }

    /// The caller follows `subject` (`following`), or stops following it; the caller's access
    /// to it is the caller's to check first.
    pub async fn watch(&self, caller: &Principal, subject: Subject, following: bool) -> Result<(), NotificationError> {
        let follow = Follow { user_id: caller.id, subject, following };
        self.store.follow(follow, Utc::now()).await?;
        if let Some(cache) = &self.follows {
            cache.invalidate(subject).await;
        }
        Ok(())
    }

    /// Every follow of `subjects`, for those deciding who follows what: from the cache where it
    /// holds them, the others in one read (and cached, unless a follow changed meanwhile).
    pub async fn follows_of(&self, subjects: Vec<Subject>) -> Result<Vec<Follow>, NotificationError> {
        let Some(cache) = &self.follows else {
            return Ok(self.store.follows_of(subjects).await?);
        };
        let read_since = cache.epoch();
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for subject in subjects {
            match cache.get(subject) {
                Some(follows) => found.extend_from_slice(&follows),
                None => missing.push(subject),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = self.store.follows_of(missing.clone()).await?;
        for subject in missing {
            let of: Arc<[Follow]> = read.iter().filter(|f| f.subject == subject).copied().collect();
            cache.put(subject, of, read_since);
        }
        found.extend(read);
        Ok(found)
    }

    /// The active users named by `names` (usernames, any case).
    pub async fn users_named(&self, names: Vec<String>) -> Result<Vec<UserId>, NotificationError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.users_named(names).await?)
    }

    /// Delivers `notices` to its recipients who want that kind in the app (the actor never: no
    /// one is told of what they did): one batched write (which also queues the daily digest of
    /// those who want this kind daily), then a `notification.created` to each recipient's
    /// sockets, and one e-mail job for those who want it at once. The recipients are the caller's to have checked: each may see the
    /// subject now.
    pub async fn deliver(&self, mut notices: NewNotifications) -> Result<Vec<Notification>, NotificationError> {
        let unique: BTreeSet<UserId> =
            notices.recipients.iter().copied().filter(|r| Some(*r) != notices.actor_id).collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let set: HashMap<UserId, Preference> = self
            .store
            .preferences(unique.iter().copied().collect())
            .await?
            .into_iter()
            .filter(|(_, kind, _)| *kind == notices.kind)
            .map(|(user, _, preference)| (user, preference))
            .collect();
        let kind = notices.kind;
        let preference = |r: &UserId| set.get(r).copied().unwrap_or_else(|| kind.default_preference());
        notices.recipients = unique.iter().copied().filter(|r| preference(r).in_app).collect();
        if notices.recipients.is_empty() {
            return Ok(Vec::new());
        }
        if self.mail.is_some() {
            notices.daily =
                notices.recipients.iter().copied().filter(|r| preference(r).email == EmailDelivery::Daily).collect();
        }
        let stored = self.store.create(notices).await?;
        if let Some(mail) = &self.mail {
            let instant: Vec<NotificationId> = stored
                .iter()
                .filter(|n| preference(&n.recipient_id).email == EmailDelivery::Instant)
                .map(|n| n.id)
                .collect();
            // The notifications stand whatever happens to their e-mail.
            if !instant.is_empty()
                && let Err(e) = mail.instant(instant).await
            {
                tracing::warn!(error = %e, "instant notification e-mails were not queued");
            }
        }
        let each = stored.iter().map(|n| (n.recipient_id, serde_json::to_value(n).unwrap_or(Value::Null))).collect();
        self.push.send_each("notification.created", each).await;
        Ok(stored)
    }
}

/// `current` with `change` (`{in_app?, email?}`) applied, or `None`: with the failures recorded
/// under `kind`'s name, or for `null` (left as it was, as when absent).
fn changed(v: &mut Validator, kind: &str, current: Preference, change: &Value) -> Option<Preference> {
    if change.is_null() {
        return None;
    }
    let Some(change) = change.as_object() else {
        v.fail(kind, "must be an object with `in_app` and/or `email`");
        return None;
    };
    let mut preference = current;
    let mut ok = true;
    for (field, value) in change {
        match (field.as_str(), value) {
            // `null`, as absent: left as it was.
            ("in_app" | "email", Value::Null) => {}
            ("in_app", Value::Bool(on)) => preference.in_app = *on,
            ("in_app", _) => {
                v.fail(&format!("{kind}.in_app"), "must be true or false");
                ok = false;
            }
            ("email", value) => match value.as_str().and_then(EmailDelivery::parse) {
                Some(email) => preference.email = email,
                None => {
                    v.fail(&format!("{kind}.email"), "must be one of off, instant, daily");
                    ok = false;
                }
            },
            (other, _) => {
                v.fail(&format!("{kind}.{other}"), "is not a preference (in_app, email)");
                ok = false;
            }
        }
    }
    ok.then_some(preference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubjectType;
    use crate::ports::{MockNotificationPush, MockNotificationRepository};
    use workbench_users::{Role, UserStatus};

    fn principal(id: i64) -> Principal {
        Principal { id: UserId(id), role: Role::User, status: UserStatus::Active, token_generation: 0 }
    }

    fn notices(recipients: &[i64], actor: i64) -> NewNotifications {
        NewNotifications {
            recipients: recipients.iter().map(|r| UserId(*r)).collect(),
            kind: Kind::Commented,
            actor_id: Some(UserId(actor)),
            subject: Subject { kind: SubjectType::Task, id: 7 },
            title: "New comment".into(),
            body: "Looks good".into(),
            created_at: Utc::now(),
            daily: Vec::new(),
        }
    }

    #[tokio::test]
    async fn delivery_skips_the_actor_and_those_who_turned_the_kind_off() {
        let mut store = MockNotificationRepository::new();
        let off = Preference { in_app: false, email: EmailDelivery::Off };
        store.expect_preferences().returning(move |_| Ok(vec![(UserId(3), Kind::Commented, off)]));
        store.expect_create().withf(|n| n.recipients == vec![UserId(2), UserId(4)]).times(1).returning(|n| {
            Ok(n.recipients
                .iter()
                .enumerate()
                .map(|(i, r)| Notification {
                    id: NotificationId(i as i64 + 1),
                    recipient_id: *r,
                    kind: n.kind,
                    actor_id: n.actor_id,
                    subject: n.subject,
                    title: n.title.clone(),
                    body: n.body.clone(),
                    created_at: n.created_at,
                    read_at: None,
                })
                .collect())
        });
        let mut push = MockNotificationPush::new();
        push.expect_send_each()
            .withf(|event, each| event == "notification.created" && each.len() == 2)
            .times(1)
            .returning(|_, _| ());
        let service = NotificationService::new(Arc::new(store), Arc::new(push));
        let stored = service.deliver(notices(&[1, 2, 3, 4, 2], 1)).await.unwrap();
        assert_eq!(stored.len(), 2);
    }

    /// A cache in a map, epochs and all, as the cache crate's keeps them.
    #[derive(Default)]
    struct MapCache {
        entries: std::sync::Mutex<HashMap<Subject, Arc<[Follow]>>>,
        epoch: std::sync::atomic::AtomicU64,
    }

    #[async_trait::async_trait]
    impl FollowsCache for MapCache {
        fn get(&self, subject: Subject) -> Option<Arc<[Follow]>> {
            self.entries.lock().unwrap().get(&subject).cloned()
        }
        fn epoch(&self) -> workbench_users::CacheEpoch {
            workbench_users::CacheEpoch(self.epoch.load(std::sync::atomic::Ordering::SeqCst))
        }
        fn put(&self, subject: Subject, follows: Arc<[Follow]>, read_since: workbench_users::CacheEpoch) {
            if self.epoch() == read_since {
                self.entries.lock().unwrap().insert(subject, follows);
            }
        }
        async fn invalidate(&self, subject: Subject) {
            self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.entries.lock().unwrap().remove(&subject);
        }
    }

    #[tokio::test]
    async fn follows_are_read_once_until_a_follow_of_the_subject_changes() {
        let (task, project) = (Subject::task(7), Subject::project(3));
        let mut store = MockNotificationRepository::new();
        let follower = Follow { user_id: UserId(5), subject: project, following: true };
        let mut reads = mockall::Sequence::new();
        store
            .expect_follows_of()
            .withf(move |subjects| subjects == &vec![task, project])
            .times(1)
            .in_sequence(&mut reads)
            .returning(move |_| Ok(vec![follower]));
        store.expect_follow().times(1).returning(|_, _| Ok(()));
        store
            .expect_follows_of()
            .withf(move |subjects| subjects == &vec![task])
            .times(1)
            .in_sequence(&mut reads)
            .returning(move |_| Ok(vec![Follow { user_id: UserId(2), subject: task, following: false }]));
        let service = NotificationService::new(Arc::new(store), Arc::new(MockNotificationPush::new()))
            .caching_follows(Arc::new(MapCache::default()));

        assert_eq!(service.follows_of(vec![task, project]).await.unwrap(), vec![follower]);
        assert_eq!(service.follows_of(vec![task, project]).await.unwrap(), vec![follower], "from the cache");
        service.watch(&principal(2), task, false).await.unwrap();
        let after = service.follows_of(vec![task, project]).await.unwrap();
        assert_eq!(after.len(), 2, "the task's follows read again, the project's still cached: {after:?}");
        assert!(after.contains(&follower) && after.iter().any(|f| f.user_id == UserId(2) && !f.following));
    }

    #[tokio::test]
    async fn a_notice_for_its_actor_alone_writes_nothing() {
        let service = NotificationService::new(
            Arc::new(MockNotificationRepository::new()),
            Arc::new(MockNotificationPush::new()),
        );
        assert!(service.deliver(notices(&[1], 1)).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn unknown_kinds_fields_and_values_are_named() {
        let mut store = MockNotificationRepository::new();
        store.expect_preferences().returning(|_| Ok(Vec::new()));
        store.expect_set_preferences().never();
        let service = NotificationService::new(Arc::new(store), Arc::new(MockNotificationPush::new()));
        let change = json!({"gossip": {"in_app": true}, "assigned": {"email": "weekly"}, "mentioned": {"sms": true},
                            "commented": {"in_app": "yes"}});
        let Err(NotificationError::Validation(errors)) = service.set_preferences(&principal(1), &change).await else {
            panic!("refused")
        };
        for field in ["gossip", "assigned.email", "mentioned.sms", "commented.in_app"] {
            assert!(errors.contains(field), "{field}: {errors:?}");
        }
    }

    #[tokio::test]
    async fn null_kinds_and_fields_are_left_as_they_were() {
        let mut store = MockNotificationRepository::new();
        store.expect_preferences().returning(|_| Ok(Vec::new()));
        store
            .expect_set_preferences()
            .withf(|_, set| *set == vec![(Kind::Reminder, Preference { in_app: true, email: EmailDelivery::Off })])
            .times(1)
            .returning(|_, _| Ok(()));
        let service = NotificationService::new(Arc::new(store), Arc::new(MockNotificationPush::new()));
        let change = json!({"assigned": null, "reminder": {"in_app": null, "email": "off"}});
        service.set_preferences(&principal(1), &change).await.expect("accepted");
    }

    #[tokio::test]
    async fn marks_name_only_positive_ids() {
        let service = NotificationService::new(
            Arc::new(MockNotificationRepository::new()),
            Arc::new(MockNotificationPush::new()),
        );
        let draft = ReadDraft { up_to_id: Some(0), ids: Some(vec![3, -1]), ..ReadDraft::default() };
        let Err(NotificationError::Validation(errors)) = service.mark_read(&principal(1), draft).await else {
            panic!("refused")
        };
        assert!(errors.contains("up_to_id") && errors.contains("ids"), "{errors:?}");
    }
}

//! The projects adapter, on SQLite always and PostgreSQL when it is reachable (always under
//! `CI=true`), held to the `ProjectRepository` contract (`crates/projects/src/ports.rs`): a
//! project and its first admin in one write, lists by membership, roles, the last admin kept
//! even when two admins demote each other at once, invitations whose last use goes to one, and
//! invitations that end with their maker's membership.

use chrono::TimeDelta;
use workbench_core::PageRequest;
use workbench_projects::{
    Acceptance, Admission, InviteToken, MemberChange, NewInvite, NewProject, ProjectFilter, ProjectId, ProjectName,
    ProjectRepository, ProjectRole,
};
use workbench_store::testing::{execute_sql, instant, user};
use workbench_store::{Database, DieselProjectRepository, engine_cases};
use workbench_users::{User, UserId};

engine_cases!(
    a_project_starts_with_its_creator_as_admin_and_is_listed_by_membership,
    members_join_change_and_leave_but_the_last_admin_stays,
    two_admins_demoting_each_other_at_once_leave_one,
    an_invitation_admits_as_many_as_it_allows_and_members_are_not_counted,
    a_project_goes_with_its_members_and_invitations,
    a_removed_member_takes_the_invitations_they_made_with_them,
);

fn repo(db: &Database) -> DieselProjectRepository {
    DieselProjectRepository::new(db.clone())
}

fn page() -> PageRequest {
    PageRequest::new(None, None).unwrap()
}

async fn project(db: &Database, owner: &User, name: &str) -> ProjectId {
    let new = NewProject {
        name: ProjectName::parse(name).unwrap(),
        description: Some("Tiles and taps".into()),
        owner_id: owner.id,
        created_at: instant(),
    };
    repo(db).create(new).await.unwrap().id
}

fn invite(project: ProjectId, token: &str, max_uses: Option<u32>, by: UserId) -> NewInvite {
    NewInvite {
        project_id: project,
        role: ProjectRole::Editor,
        max_uses,
        token_digest: InviteToken::digest(token),
        expires_at: instant() + TimeDelta::hours(1),
        created_by: by,
        created_at: instant(),
    }
}

async fn a_project_starts_with_its_creator_as_admin_and_is_listed_by_membership(db: Database) {
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let kitchen = project(&db, &ann, "Kitchen").await;
    let garden = project(&db, &bob, "Garden").await;
    let found = repo(&db).find(kitchen).await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.member_count, found.version), ("Kitchen", 1, 1));
    assert_eq!(found.created_at, instant());
    assert_eq!(repo(&db).role_of(kitchen, ann.id).await.unwrap(), Some(ProjectRole::Admin));
    assert_eq!(repo(&db).role_of(kitchen, bob.id).await.unwrap(), None);

    let mine = repo(&db).list(Some(ann.id), ann.id, ProjectFilter::default(), page()).await.unwrap();
    assert_eq!(mine.total, 1);
    assert_eq!((mine.items[0].project.id, mine.items[0].my_role), (kitchen, Some(ProjectRole::Admin)));
    let all = repo(&db).list(None, ann.id, ProjectFilter::default(), page()).await.unwrap();
    let seen: Vec<_> = all.items.iter().map(|v| (v.project.id, v.my_role)).collect();
    assert_eq!(seen, [(garden, None), (kitchen, Some(ProjectRole::Admin))], "newest first, roles where member");

    let mut archived = found.clone();
    archived.archived = true;
    let stored = repo(&db).update(archived.clone(), 1).await.unwrap().unwrap();
    assert_eq!((stored.archived, stored.version), (true, 2));
    assert_eq!(repo(&db).update(archived, 1).await.unwrap(), None, "a stale version writes nothing");
    let active = repo(&db).list(Some(ann.id), ann.id, ProjectFilter { archived: false }, page()).await.unwrap();
    assert_eq!(active.total, 0, "archived projects are listed apart");
    let shelved = repo(&db).list(Some(ann.id), ann.id, ProjectFilter { archived: true }, page()).await.unwrap();
    assert_eq!(shelved.total, 1);
}

async fn members_join_change_and_leave_but_the_last_admin_stays(db: Database) {
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let gone = user(&db, "gone").await;
    execute_sql(&db, format!("UPDATE users SET status = 'disabled' WHERE id = {}", gone.id.0)).await.unwrap();
    let kitchen = project(&db, &ann, "Kitchen").await;
    let projects = repo(&db);
    let add = |who: UserId| projects.add_member(kitchen, who, ProjectRole::Viewer, instant());
    assert_eq!(add(bob.id).await.unwrap(), Admission::Added);
    assert_eq!(add(bob.id).await.unwrap(), Admission::AlreadyMember);
    assert_eq!(add(gone.id).await.unwrap(), Admission::NoSuchUser, "a disabled account");
    assert_eq!(add(UserId(999_999)).await.unwrap(), Admission::NoSuchUser);
    let members = repo(&db).members(kitchen, page()).await.unwrap();
    assert_eq!(members.total, 2);
    assert_eq!(members.items.iter().map(|m| m.username.as_str()).collect::<Vec<_>>(), ["ann", "bob"]);
    assert_eq!(repo(&db).find(kitchen).await.unwrap().unwrap().member_count, 2);

    assert_eq!(repo(&db).change_role(kitchen, ann.id, ProjectRole::Editor).await.unwrap(), MemberChange::LastAdmin);
    assert_eq!(repo(&db).remove_member(kitchen, ann.id).await.unwrap().0, MemberChange::LastAdmin);
    assert_eq!(repo(&db).change_role(kitchen, bob.id, ProjectRole::Admin).await.unwrap(), MemberChange::Done);
    assert_eq!(repo(&db).change_role(kitchen, ann.id, ProjectRole::Editor).await.unwrap(), MemberChange::Done);
    assert_eq!(repo(&db).member(kitchen, ann.id).await.unwrap().unwrap().role, ProjectRole::Editor);
    assert_eq!(repo(&db).remove_member(kitchen, ann.id).await.unwrap().0, MemberChange::Done);
    assert_eq!(repo(&db).remove_member(kitchen, ann.id).await.unwrap().0, MemberChange::NotAMember);
    assert_eq!(
        repo(&db).change_role(ProjectId(999_999), bob.id, ProjectRole::Viewer).await.unwrap(),
        MemberChange::NotAMember
    );
}

async fn two_admins_demoting_each_other_at_once_leave_one(db: Database) {
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    for round in 0..5 {
        let kitchen = project(&db, &ann, &format!("Kitchen {round}")).await;
        repo(&db).add_member(kitchen, bob.id, ProjectRole::Admin, instant()).await.unwrap();
        let (a, b) = (repo(&db), repo(&db));
        let (one, other) =
            tokio::join!(a.change_role(kitchen, ann.id, ProjectRole::Viewer), b.remove_member(kitchen, bob.id),);
        let done = [one.unwrap(), other.unwrap().0].iter().filter(|c| **c == MemberChange::Done).count();
        assert_eq!(done, 1, "round {round}: exactly one of the two changes went through");
        let members = repo(&db).members(kitchen, page()).await.unwrap().items;
        assert!(members.iter().any(|m| m.role == ProjectRole::Admin), "round {round}: an admin is left");
    }
}

async fn an_invitation_admits_as_many_as_it_allows_and_members_are_not_counted(db: Database) {
    let ann = user(&db, "ann").await;
    let kitchen = project(&db, &ann, "Kitchen").await;
    let made = repo(&db).create_invite(invite(kitchen, "one-use", Some(1), ann.id)).await.unwrap();
    assert_eq!((made.role, made.max_uses, made.uses), (ProjectRole::Editor, Some(1), 0));
    let projects = repo(&db);
    let accept = |token: &str, who: UserId| projects.accept_invite(InviteToken::digest(token), who, instant());

    // Two people follow a one-use invitation at once: exactly one joins.
    let mut racers = Vec::new();
    for name in ["bob", "cid", "dee", "eve"] {
        racers.push(user(&db, name).await);
    }
    let tries: Vec<_> = racers
        .iter()
        .map(|who| {
            let (repo, id) = (repo(&db), who.id);
            tokio::spawn(
                async move { repo.accept_invite(InviteToken::digest("one-use"), id, instant()).await.unwrap() },
            )
        })
        .collect();
    let mut joined = 0;
    for attempt in tries {
        match attempt.await.unwrap() {
            Acceptance::Joined(project) => {
                assert_eq!(project, kitchen);
                joined += 1;
            }
            other => assert_eq!(other, Acceptance::Closed),
        }
    }
    assert_eq!(joined, 1);
    assert_eq!(accept("one-use", ann.id).await.unwrap(), Acceptance::AlreadyMember(kitchen), "even when used up");
    assert_eq!(
        repo(&db).invites(kitchen, page()).await.unwrap().items[0].uses,
        1,
        "a member following it is not counted"
    );
    assert_eq!(accept("no-such", ann.id).await.unwrap(), Acceptance::Closed);

    let open = repo(&db).create_invite(invite(kitchen, "open", None, ann.id)).await.unwrap();
    let frank = user(&db, "frank").await;
    let late = repo(&db).accept_invite(InviteToken::digest("open"), frank.id, instant() + TimeDelta::hours(2)).await;
    assert_eq!(late.unwrap(), Acceptance::Closed, "expired");
    assert!(repo(&db).revoke_invite(kitchen, open.id).await.unwrap());
    assert!(!repo(&db).revoke_invite(kitchen, open.id).await.unwrap());
    assert_eq!(accept("open", frank.id).await.unwrap(), Acceptance::Closed, "revoked");
    assert_eq!(repo(&db).invites(kitchen, page()).await.unwrap().total, 1, "a revoked invitation leaves the listing");
}

async fn a_project_goes_with_its_members_and_invitations(db: Database) {
    let ann = user(&db, "ann").await;
    let kitchen = project(&db, &ann, "Kitchen").await;
    repo(&db).create_invite(invite(kitchen, "gone-with-it", None, ann.id)).await.unwrap();
    assert!(!repo(&db).delete(kitchen, Some(7)).await.unwrap(), "a stale version deletes nothing");
    assert!(repo(&db).delete(kitchen, Some(1)).await.unwrap());
    assert_eq!(repo(&db).find(kitchen).await.unwrap(), None);
    assert_eq!(repo(&db).role_of(kitchen, ann.id).await.unwrap(), None);
    assert_eq!(repo(&db).invites(kitchen, page()).await.unwrap().total, 0);
    assert!(!repo(&db).delete(kitchen, None).await.unwrap());
}

async fn a_removed_member_takes_the_invitations_they_made_with_them(db: Database) {
    let (ann, bob, cid) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cid").await);
    let (kitchen, garden) = (project(&db, &ann, "Kitchen").await, project(&db, &ann, "Garden").await);
    for place in [kitchen, garden] {
        assert_eq!(repo(&db).add_member(place, bob.id, ProjectRole::Admin, instant()).await.unwrap(), Admission::Added);
    }
    let anns = repo(&db).create_invite(invite(kitchen, "anns", None, ann.id)).await.unwrap();
    repo(&db).create_invite(invite(kitchen, "bobs", None, bob.id)).await.unwrap();
    repo(&db).create_invite(invite(garden, "bobs-garden", None, bob.id)).await.unwrap();

    let (removed, _) = repo(&db).remove_member(kitchen, bob.id).await.unwrap();
    assert_eq!(removed, MemberChange::Done);
    let projects = repo(&db);
    let accept = |token: &str, who: UserId| projects.accept_invite(InviteToken::digest(token), who, instant());
    assert_eq!(accept("bobs", bob.id).await.unwrap(), Acceptance::Closed, "not for himself");
    assert_eq!(accept("bobs", cid.id).await.unwrap(), Acceptance::Closed, "nor for anyone");
    let left = repo(&db).invites(kitchen, page()).await.unwrap();
    assert_eq!(left.items.iter().map(|i| i.id).collect::<Vec<_>>(), [anns.id], "ann's stays");
    assert_eq!(accept("bobs-garden", cid.id).await.unwrap(), Acceptance::Joined(garden), "another project's stays");
}

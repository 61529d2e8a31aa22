//! Relations between tasks: a subtask and its parent, a blocker and what it blocks, related and
//! duplicate tasks, each shown from both sides; cycles and second parents refused (also when
//! both halves of a cycle arrive at once); `blocked` following the blockers' status; relations
//! that end with a task or by any of their names.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, send_as};

use super::{add, delete_task, expect, id, ids, patch, project, read_task, refused, sorted, task};

/// Every kind `GET /tasks/{id}/relations` answers with, always.
const KINDS: [&str; 7] = ["subtask", "parent", "blocks", "blocked_by", "relates", "duplicates", "duplicated_by"];

/// `POST /tasks/{from}/relations {kind, task_id: to}` as `who`.
async fn relate(app: &TestApp, who: &Account, from: i64, kind: &str, to: i64) -> Response {
    let body = json!({"kind": kind, "task_id": to});
    send_as(app, who, Method::POST, &format!("/tasks/{from}/relations"), Some(body)).await
}

/// `DELETE /tasks/{from}/relations/{kind}/{to}` as `who`.
async fn unrelate(app: &TestApp, who: &Account, from: i64, kind: &str, to: i64) -> Response {
    send_as(app, who, Method::DELETE, &format!("/tasks/{from}/relations/{kind}/{to}"), None).await
}

/// `GET /tasks/{of}/relations` as `who`, asserting that every kind is there as an array.
async fn relations(app: &TestApp, who: &Account, of: i64) -> Value {
    let body = expect(send_as(app, who, Method::GET, &format!("/tasks/{of}/relations"), None).await, 200).await;
    for kind in KINDS {
        assert!(body[kind].is_array(), "`{kind}` is missing: {body}");
    }
    body
}

/// The ids shown under each kind, sorted; kinds showing none left out.
fn shown(relations: &Value) -> BTreeMap<String, Vec<i64>> {
    KINDS
        .iter()
        .map(|kind| (kind.to_string(), sorted(ids(&relations[*kind]))))
        .filter(|(_, ids)| !ids.is_empty())
        .collect()
}

/// What [`shown`] should answer.
fn expected(kinds: &[(&str, &[i64])]) -> BTreeMap<String, Vec<i64>> {
    kinds.iter().map(|(kind, ids)| (kind.to_string(), sorted(ids.to_vec()))).collect()
}

fn none() -> BTreeMap<String, Vec<i64>> {
    BTreeMap::new()
}

/// A personal task of `who`'s titled `title`: its id.
async fn todo(app: &TestApp, who: &Account, title: &str) -> i64 {
    id(&task(app, who, json!({"title": title})).await)
}

engines!(
    a_subtask_is_shown_from_both_sides_and_posting_it_again_changes_nothing,
    every_kind_shows_on_both_tasks_whichever_side_posts_it,
    bad_kinds_and_tasks_are_named,
    relations_follow_project_roles_and_show_only_visible_tasks,
    subtask_cycles_and_second_parents_are_refused,
    blocking_cycles_are_refused,
    a_task_is_blocked_while_one_of_its_blockers_is_open,
    relations_are_deleted_by_any_of_their_names,
    deleted_tasks_leave_their_relations,
    opposite_blocks_posted_at_once_store_exactly_one,
    a_project_goes_with_its_subtasks_and_blockers,
    a_reader_does_not_tie_a_task_it_cannot_change,
);

async fn a_subtask_is_shown_from_both_sides_and_posting_it_again_changes_nothing(app: TestApp) {
    let ann = app.signup("ann").await;
    let house = todo(&app, &ann, "Paint the house").await;
    let paint = todo(&app, &ann, "Buy paint").await;
    let fresh = read_task(&app, &ann, paint).await;
    assert_eq!((&fresh["parent_id"], &fresh["blocked"]), (&Value::Null, &json!(false)), "{fresh}");

    let made = expect(relate(&app, &ann, house, "subtask", paint).await, 201).await;
    assert_eq!(made, json!({"kind": "subtask", "task_id": paint}));
    let again = expect(relate(&app, &ann, house, "subtask", paint).await, 200).await;
    assert_eq!(again, made, "the same relation again changes nothing");

    let of_house = relations(&app, &ann, house).await;
    assert_eq!(shown(&of_house), expected(&[("subtask", &[paint])]));
    let child = &of_house["subtask"][0];
    assert_eq!((child["title"].as_str(), child["parent_id"].as_i64()), (Some("Buy paint"), Some(house)), "{child}");
    assert_eq!(shown(&relations(&app, &ann, paint).await), expected(&[("parent", &[house])]));
    assert_eq!(read_task(&app, &ann, paint).await["parent_id"], house);
    assert_eq!(read_task(&app, &ann, house).await["parent_id"], Value::Null);

    // Posted from the child's side, as `parent`: the same relation.
    let same = expect(relate(&app, &ann, paint, "parent", house).await, 200).await;
    assert_eq!(same, json!({"kind": "parent", "task_id": house}));
    // A second child, named from its own side.
    let brushes = todo(&app, &ann, "Buy brushes").await;
    let made = expect(relate(&app, &ann, brushes, "parent", house).await, 201).await;
    assert_eq!(made, json!({"kind": "parent", "task_id": house}));
    assert_eq!(shown(&relations(&app, &ann, house).await), expected(&[("subtask", &[paint, brushes])]));
    assert_eq!(read_task(&app, &ann, brushes).await["parent_id"], house);
}

async fn every_kind_shows_on_both_tasks_whichever_side_posts_it(app: TestApp) {
    let ann = app.signup("ann").await;
    let [a, b, c, d, e, f] = [
        todo(&app, &ann, "Order tiles").await,
        todo(&app, &ann, "Lay tiles").await,
        todo(&app, &ann, "Choose grout").await,
        todo(&app, &ann, "Order the tiles").await,
        todo(&app, &ann, "Tiles: order them").await,
        todo(&app, &ann, "Seal the grout").await,
    ];
    for (kind, other) in [("blocks", b), ("relates", c), ("duplicates", d), ("duplicated_by", e)] {
        let made = expect(relate(&app, &ann, a, kind, other).await, 201).await;
        assert_eq!(made, json!({"kind": kind, "task_id": other}));
    }
    // `blocked_by` posted on F: B blocks F.
    let made = expect(relate(&app, &ann, f, "blocked_by", b).await, 201).await;
    assert_eq!(made, json!({"kind": "blocked_by", "task_id": b}));

    let of_a = expected(&[("blocks", &[b]), ("relates", &[c]), ("duplicates", &[d]), ("duplicated_by", &[e])]);
    assert_eq!(shown(&relations(&app, &ann, a).await), of_a);
    assert_eq!(shown(&relations(&app, &ann, b).await), expected(&[("blocked_by", &[a]), ("blocks", &[f])]));
    assert_eq!(shown(&relations(&app, &ann, c).await), expected(&[("relates", &[a])]), "`relates` is symmetric");
    assert_eq!(shown(&relations(&app, &ann, d).await), expected(&[("duplicated_by", &[a])]));
    assert_eq!(shown(&relations(&app, &ann, e).await), expected(&[("duplicates", &[a])]));
    assert_eq!(shown(&relations(&app, &ann, f).await), expected(&[("blocked_by", &[b])]));

    // Each, posted again from the other side, is the relation that exists: nothing new.
    for (from, kind, to) in [(b, "blocked_by", a), (c, "relates", a), (d, "duplicated_by", a), (e, "duplicates", a)] {
        let same = expect(relate(&app, &ann, from, kind, to).await, 200).await;
        assert_eq!(same, json!({"kind": kind, "task_id": to}));
    }
    assert_eq!(shown(&relations(&app, &ann, a).await), of_a);
    assert_eq!(shown(&relations(&app, &ann, c).await), expected(&[("relates", &[a])]));
}

async fn bad_kinds_and_tasks_are_named(app: TestApp) {
    let (ann, bob) = (app.signup("ann").await, app.signup("bob").await);
    let a = todo(&app, &ann, "Ann's").await;
    let other = todo(&app, &ann, "Ann's other").await;
    let bobs = todo(&app, &bob, "Bob's").await;

    assert_eq!(refused(relate(&app, &ann, a, "follows", other).await, 422).await, ["kind"]);
    assert_eq!(refused(relate(&app, &ann, a, "Blocks", other).await, 422).await, ["kind"]);
    for kind in ["subtask", "blocks", "relates", "duplicates", "parent"] {
        assert_eq!(refused(relate(&app, &ann, a, kind, a).await, 422).await, ["task_id"], "{kind} to itself");
    }
    assert_eq!(refused(relate(&app, &ann, a, "blocks", bobs + 1000).await, 422).await, ["task_id"], "no such task");
    assert_eq!(refused(relate(&app, &ann, a, "relates", bobs).await, 422).await, ["task_id"], "someone else's");
    assert_eq!(refused(relate(&app, &ann, a, "parent", bobs).await, 422).await, ["task_id"]);

    // A first task the caller may not see is not there for them.
    expect(relate(&app, &ann, bobs, "relates", a).await, 404).await;
    expect(send_as(&app, &ann, Method::GET, &format!("/tasks/{bobs}/relations"), None).await, 404).await;
    expect(unrelate(&app, &ann, bobs, "relates", a).await, 404).await;
    let anonymous = app.get(&format!("/api/v1/tasks/{a}/relations")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    assert_eq!(shown(&relations(&app, &ann, a).await), none(), "nothing was stored");
    assert_eq!(shown(&relations(&app, &bob, bobs).await), none());
    assert_eq!(read_task(&app, &ann, a).await["parent_id"], Value::Null);
}

async fn relations_follow_project_roles_and_show_only_visible_tasks(app: TestApp) {
    let (ann, cat, dan) = (app.signup("ann").await, app.signup("cat").await, app.signup("dan").await);
    let kitchen = project(&app, &ann, "Kitchen").await;
    add(&app, &ann, kitchen, &cat, "viewer").await;
    let tiles = id(&task(&app, &ann, json!({"title": "Tiles", "project_id": kitchen})).await);
    let grout = id(&task(&app, &ann, json!({"title": "Grout", "project_id": kitchen})).await);

    // A viewer reads a project task's relations but may not change them; a stranger sees nothing.
    expect_refusal(relate(&app, &cat, tiles, "blocks", grout).await, 403).await;
    assert_eq!(shown(&relations(&app, &cat, tiles).await), none());
    expect_refusal(relate(&app, &dan, tiles, "blocks", grout).await, 404).await;
    expect(send_as(&app, &dan, Method::GET, &format!("/tasks/{tiles}/relations"), None).await, 404).await;
    let dans = todo(&app, &dan, "Dan's").await;
    assert_eq!(refused(relate(&app, &dan, dans, "relates", tiles).await, 422).await, ["task_id"]);

    expect(relate(&app, &ann, tiles, "subtask", grout).await, 201).await;
    assert_eq!(shown(&relations(&app, &cat, tiles).await), expected(&[("subtask", &[grout])]));

    // Cat changes her own task, and may see Tiles: she relates the two. Ann cannot see Cat's task,
    // so it is missing from what she is shown.
    let cats = todo(&app, &cat, "Cat's own").await;
    expect(relate(&app, &cat, cats, "relates", tiles).await, 201).await;
    assert_eq!(shown(&relations(&app, &cat, tiles).await), expected(&[("subtask", &[grout]), ("relates", &[cats])]));
    assert_eq!(shown(&relations(&app, &cat, cats).await), expected(&[("relates", &[tiles])]));
    assert_eq!(shown(&relations(&app, &ann, tiles).await), expected(&[("subtask", &[grout])]));
    assert_eq!(refused(relate(&app, &ann, tiles, "blocks", cats).await, 422).await, ["task_id"]);
}

/// Asserts a refusal with `status` (a problem document).
async fn expect_refusal(res: Response, status: u16) {
    refused(res, status).await;
}

async fn subtask_cycles_and_second_parents_are_refused(app: TestApp) {
    let ann = app.signup("ann").await;
    let [a, b, c, d] = [
        todo(&app, &ann, "A").await,
        todo(&app, &ann, "B").await,
        todo(&app, &ann, "C").await,
        todo(&app, &ann, "D").await,
    ];
    expect(relate(&app, &ann, a, "subtask", b).await, 201).await;
    expect(relate(&app, &ann, b, "subtask", c).await, 201).await;

    // A is B's parent and C's grandparent: neither may become A's parent.
    for (from, kind, to) in [(b, "subtask", a), (c, "subtask", a), (a, "parent", c), (a, "parent", b)] {
        assert_eq!(refused(relate(&app, &ann, from, kind, to).await, 422).await, ["task_id"], "{from} {kind} {to}");
    }
    // B has a parent already.
    for (from, kind, to) in [(d, "subtask", b), (b, "parent", d), (d, "subtask", c)] {
        assert_eq!(refused(relate(&app, &ann, from, kind, to).await, 422).await, ["task_id"], "{from} {kind} {to}");
    }

    assert_eq!(shown(&relations(&app, &ann, a).await), expected(&[("subtask", &[b])]));
    assert_eq!(shown(&relations(&app, &ann, b).await), expected(&[("parent", &[a]), ("subtask", &[c])]));
    assert_eq!(shown(&relations(&app, &ann, c).await), expected(&[("parent", &[b])]));
    assert_eq!(shown(&relations(&app, &ann, d).await), none());
    assert_eq!(read_task(&app, &ann, b).await["parent_id"], a);
    assert_eq!(read_task(&app, &ann, c).await["parent_id"], b);

    // A has no parent, and D is none of its descendants: D may become its parent.
    expect(relate(&app, &ann, d, "subtask", a).await, 201).await;
    assert_eq!(read_task(&app, &ann, a).await["parent_id"], d);
    assert_eq!(refused(relate(&app, &ann, c, "subtask", d).await, 422).await, ["task_id"], "a cycle of four");
}

async fn blocking_cycles_are_refused(app: TestApp) {
    let ann = app.signup("ann").await;
    let [a, b, c] = [todo(&app, &ann, "A").await, todo(&app, &ann, "B").await, todo(&app, &ann, "C").await];
    expect(relate(&app, &ann, a, "blocks", b).await, 201).await;
    expect(relate(&app, &ann, b, "blocks", c).await, 201).await;

    for (from, kind, to) in [(b, "blocks", a), (c, "blocks", a), (a, "blocked_by", c), (a, "blocked_by", b)] {
        assert_eq!(refused(relate(&app, &ann, from, kind, to).await, 422).await, ["task_id"], "{from} {kind} {to}");
    }
    assert_eq!(shown(&relations(&app, &ann, a).await), expected(&[("blocks", &[b])]));
    assert_eq!(shown(&relations(&app, &ann, c).await), expected(&[("blocked_by", &[b])]));

    // A blocking C directly, as well as through B, makes no cycle.
    expect(relate(&app, &ann, a, "blocks", c).await, 201).await;
    assert_eq!(shown(&relations(&app, &ann, c).await), expected(&[("blocked_by", &[a, b])]));
    assert_eq!(shown(&relations(&app, &ann, a).await), expected(&[("blocks", &[b, c])]));
}

async fn a_task_is_blocked_while_one_of_its_blockers_is_open(app: TestApp) {
    let ann = app.signup("ann").await;
    let [wiring, plumbing, walls] = [
        todo(&app, &ann, "Wiring").await,
        todo(&app, &ann, "Plumbing").await,
        todo(&app, &ann, "Close the walls").await,
    ];
    let blocked = |task: i64| {
        let (app, ann) = (&app, &ann);
        async move { read_task(app, ann, task).await["blocked"].as_bool().expect("`blocked` is a boolean") }
    };
    assert!(!blocked(walls).await);
    expect(relate(&app, &ann, wiring, "blocks", walls).await, 201).await;
    expect(relate(&app, &ann, walls, "blocked_by", plumbing).await, 201).await;
    assert!(blocked(walls).await);
    assert!(!blocked(wiring).await, "blocking is not being blocked");

    patch(&app, &ann, wiring, json!({"status": "in_progress"})).await;
    assert!(blocked(walls).await, "a blocker in progress is still open");
    patch(&app, &ann, wiring, json!({"status": "completed"})).await;
    assert!(blocked(walls).await, "plumbing is still open");
    patch(&app, &ann, plumbing, json!({"status": "completed"})).await;
    assert!(!blocked(walls).await, "every blocker is done");
    let listed = expect(send_as(&app, &ann, Method::GET, "/tasks?q=walls", None).await, 200).await;
    assert_eq!(listed["data"][0]["blocked"], false, "{listed}");

    patch(&app, &ann, wiring, json!({"status": "pending"})).await;
    assert!(blocked(walls).await, "reopened");
    let listed = expect(send_as(&app, &ann, Method::GET, "/tasks?q=walls", None).await, 200).await;
    assert_eq!(listed["data"][0]["blocked"], true, "{listed}");

    delete_task(&app, &ann, wiring).await;
    assert!(!blocked(walls).await, "a deleted blocker blocks nothing");
    assert_eq!(shown(&relations(&app, &ann, walls).await), expected(&[("blocked_by", &[plumbing])]));
}

async fn relations_are_deleted_by_any_of_their_names(app: TestApp) {
    let ann = app.signup("ann").await;
    let [a, b, c, d, e] = [
        todo(&app, &ann, "A").await,
        todo(&app, &ann, "B").await,
        todo(&app, &ann, "C").await,
        todo(&app, &ann, "D").await,
        todo(&app, &ann, "E").await,
    ];

    // A subtask, removed from the parent's side, then from the child's.
    expect(relate(&app, &ann, a, "subtask", b).await, 201).await;
    expect(unrelate(&app, &ann, a, "subtask", b).await, 204).await;
    assert_eq!(read_task(&app, &ann, b).await["parent_id"], Value::Null);
    expect_refusal(unrelate(&app, &ann, a, "subtask", b).await, 404).await;
    expect(relate(&app, &ann, a, "subtask", b).await, 201).await;
    expect(unrelate(&app, &ann, b, "parent", a).await, 204).await;
    assert_eq!(read_task(&app, &ann, b).await["parent_id"], Value::Null);
    assert_eq!(shown(&relations(&app, &ann, a).await), none());

    // The others, each removed from the side that did not post it.
    for (kind, other, inverse) in
        [("blocks", c, "blocked_by"), ("relates", d, "relates"), ("duplicates", e, "duplicated_by")]
    {
        expect(relate(&app, &ann, a, kind, other).await, 201).await;
        expect(unrelate(&app, &ann, other, inverse, a).await, 204).await;
        assert_eq!(shown(&relations(&app, &ann, other).await), none(), "{kind}");
    }
    assert_eq!(shown(&relations(&app, &ann, a).await), none());
    assert_eq!(read_task(&app, &ann, c).await["blocked"], false);

    // A relation that is not there, or not in that direction: 404, and nothing changes.
    expect(relate(&app, &ann, a, "blocks", c).await, 201).await;
    expect_refusal(unrelate(&app, &ann, a, "blocked_by", c).await, 404).await;
    expect_refusal(unrelate(&app, &ann, c, "blocks", a).await, 404).await;
    expect_refusal(unrelate(&app, &ann, a, "relates", c).await, 404).await;
    expect_refusal(unrelate(&app, &ann, a, "blocks", b).await, 404).await;
    assert_eq!(shown(&relations(&app, &ann, a).await), expected(&[("blocks", &[c])]));
    assert_eq!(read_task(&app, &ann, c).await["blocked"], true);
}

async fn deleted_tasks_leave_their_relations(app: TestApp) {
    let ann = app.signup("ann").await;
    let [parent, first, second, other] = [
        todo(&app, &ann, "Parent").await,
        todo(&app, &ann, "First").await,
        todo(&app, &ann, "Second").await,
        todo(&app, &ann, "Other").await,
    ];
    expect(relate(&app, &ann, parent, "subtask", first).await, 201).await;
    expect(relate(&app, &ann, parent, "subtask", second).await, 201).await;
    expect(relate(&app, &ann, other, "relates", second).await, 201).await;

    // A deleted subtask leaves its parent's list.
    delete_task(&app, &ann, second).await;
    assert_eq!(shown(&relations(&app, &ann, parent).await), expected(&[("subtask", &[first])]));
    assert_eq!(shown(&relations(&app, &ann, other).await), none());

    // A deleted parent leaves its child without one.
    delete_task(&app, &ann, parent).await;
    let child = read_task(&app, &ann, first).await;
    assert_eq!(child["parent_id"], Value::Null, "{child}");
    assert_eq!(shown(&relations(&app, &ann, first).await), none());
    // And the child may be given another.
    expect(relate(&app, &ann, other, "subtask", first).await, 201).await;
    assert_eq!(read_task(&app, &ann, first).await["parent_id"], other);
}

async fn opposite_blocks_posted_at_once_store_exactly_one(app: TestApp) {
    let ann = app.signup("ann").await;
    let mut pairs = Vec::new();
    for i in 0..10 {
        pairs.push((todo(&app, &ann, &format!("Left {i}")).await, todo(&app, &ann, &format!("Right {i}")).await));
    }

    // Both halves of every cycle at once: 20 requests in flight together.
    let requests = pairs.iter().flat_map(|&(left, right)| {
        [relate(&app, &ann, left, "blocks", right), relate(&app, &ann, right, "blocks", left)]
    });
    let mut replies = join_all(requests).await.into_iter();

    for &(left, right) in &pairs {
        let (forward, backward) = (replies.next().unwrap(), replies.next().unwrap());
        let statuses = (forward.status().as_u16(), backward.status().as_u16());
        let (won, lost, (blocker, blocked)) = match statuses {
            (201, 422) => (forward, backward, (left, right)),
            (422, 201) => (backward, forward, (right, left)),
            other => panic!("one of the pair stores, the other is refused, not {other:?}"),
        };
        assert_eq!(expect(won, 201).await, json!({"kind": "blocks", "task_id": blocked}));
        assert_eq!(refused(lost, 422).await, ["task_id"]);
        assert_eq!(shown(&relations(&app, &ann, blocker).await), expected(&[("blocks", &[blocked])]));
        assert_eq!(shown(&relations(&app, &ann, blocked).await), expected(&[("blocked_by", &[blocker])]));
        assert_eq!(read_task(&app, &ann, blocked).await["blocked"], true);
        assert_eq!(read_task(&app, &ann, blocker).await["blocked"], false);
    }
}

/// Deleting a project deletes a parent and its subtask, a blocker and what it blocks, in one
/// statement's cascade.
async fn a_project_goes_with_its_subtasks_and_blockers(app: TestApp) {
    let ann = app.signup("ann").await;
    let p = project(&app, &ann, "Gone").await;
    let parent = id(&task(&app, &ann, json!({"title": "Parent", "project_id": p})).await);
    let child = id(&task(&app, &ann, json!({"title": "Child", "project_id": p})).await);
    let other = id(&task(&app, &ann, json!({"title": "Other", "project_id": p})).await);
    expect(relate(&app, &ann, parent, "subtask", child).await, 201).await;
    expect(relate(&app, &ann, child, "blocks", other).await, 201).await;
    let gone = send_as(&app, &ann, Method::DELETE, &format!("/projects/{p}"), None).await;
    assert_eq!(gone.status().as_u16(), 204, "{}", gone.text().await.unwrap());
    let left = send_as(&app, &ann, Method::GET, &format!("/tasks/{child}"), None).await;
    assert_eq!(left.status().as_u16(), 404);
}

/// A project viewer may relate their own task to a project task they only read, but not make it
/// a subtask or blocked: that would change a task they may not change.
async fn a_reader_does_not_tie_a_task_it_cannot_change(app: TestApp) {
    let (ann, kim) = (app.signup("ann").await, app.signup("kim").await);
    let p = project(&app, &ann, "Shared").await;
    add(&app, &ann, p, &kim, "viewer").await;
    let theirs = id(&task(&app, &ann, json!({"title": "Project task", "project_id": p})).await);
    let mine = id(&task(&app, &kim, json!({"title": "Personal"})).await);
    refused(relate(&app, &kim, mine, "subtask", theirs).await, 403).await;
    refused(relate(&app, &kim, mine, "blocks", theirs).await, 403).await;
    expect(relate(&app, &kim, mine, "relates", theirs).await, 201).await;
    expect(relate(&app, &kim, mine, "parent", theirs).await, 201).await;
    assert_eq!(read_task(&app, &kim, mine).await["parent_id"], json!(theirs), "their task changes nothing");
}

//! The comment adapter: comments on a task, written, changed, deleted and paged.

use workbench_core::RepositoryError;
use workbench_store::testing::{instant, user};
use workbench_store::{Database, DieselCommentRepository, engine_cases};
use workbench_tasks::{Comment, CommentRepository, NewComment, TaskId};

use crate::tasks::*;

engine_cases!(comments_crud_and_pagination,);

// ---------------------------------------------------------------------------------------------
// Comments
// ---------------------------------------------------------------------------------------------

async fn comments_crud_and_pagination(db: Database) {
    let tasks = repo(&db);
    let repo = DieselCommentRepository::new(db.clone());
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let at = instant();
    let task = create_at(&tasks, &ann, draft("Discussed"), at).await;
    let other = create_at(&tasks, &ann, draft("Elsewhere"), at).await;

    let mut made: Vec<Comment> = Vec::new();
    for i in 0..5 {
        let author = if i % 2 == 0 { &ann } else { &bob };
        let created = repo.create(new_comment(&task, author, &format!("comment {i}"), at + secs(i))).await.unwrap();
        assert_eq!(
            (created.task_id, created.author_id, created.body.as_str(), created.created_at, created.updated_at),
            (task.id, author.id, format!("comment {i}").as_str(), at + secs(i), at + secs(i))
        );
        made.push(created);
    }
    let elsewhere = repo.create(new_comment(&other, &bob, "elsewhere", at)).await.unwrap();

    let first = repo.list(task.id, page(1, 2)).await.unwrap();
    assert_eq!((first.total, first.items.clone()), (5, made[..2].to_vec()), "oldest first");
    let last = repo.list(task.id, page(3, 2)).await.unwrap();
    assert_eq!((last.total, last.items), (5, made[4..].to_vec()));
    let beyond = repo.list(task.id, page(4, 2)).await.unwrap();
    assert_eq!((beyond.total, beyond.items.len()), (5, 0));
    assert_eq!(repo.list(other.id, page(1, 20)).await.unwrap().items, vec![elsewhere.clone()]);

    assert_eq!(repo.find(task.id, made[1].id).await.unwrap(), Some(made[1].clone()));
    assert_eq!(repo.find(other.id, made[1].id).await.unwrap(), None, "a comment belongs to one task");
    assert_eq!(repo.find(task.id, elsewhere.id).await.unwrap(), None);

    assert!(repo.delete(made[1].id).await.unwrap());
    assert!(!repo.delete(made[1].id).await.unwrap(), "a deleted comment is not deleted twice");
    assert_eq!(repo.find(task.id, made[1].id).await.unwrap(), None);
    let rest = repo.list(task.id, page(1, 20)).await.unwrap();
    let expected: Vec<Comment> = made.iter().filter(|c| c.id != made[1].id).cloned().collect();
    assert_eq!((rest.total, rest.items), (4, expected));

    let missing =
        repo.create(NewComment { task_id: TaskId(other.id.0 + 1000), ..new_comment(&task, &ann, "x", at) }).await;
    assert!(matches!(missing, Err(RepositoryError::MissingReference { .. })), "got {missing:?}");
}

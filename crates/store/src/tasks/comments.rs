//! A task's comments.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_tasks::{Comment, CommentRepository, NewComment, TaskId};
use workbench_users::UserId;

use crate::Database;
use crate::columns::returning;
use crate::error::db;
use crate::paging::counted_page;
use crate::schema::task_comments;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = task_comments)]
struct CommentRow {
    id: i64,
    task_id: i64,
    author_id: i64,
    body: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<CommentRow> for Comment {
    fn from(row: CommentRow) -> Self {
        Comment {
            id: row.id,
            task_id: TaskId(row.task_id),
            author_id: UserId(row.author_id),
            body: row.body,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = task_comments)]
struct NewCommentRow<'a> {
    task_id: i64,
    author_id: i64,
    body: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// [`CommentRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselCommentRepository {
    db: Database,
}

impl DieselCommentRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CommentRepository for DieselCommentRepository {
    async fn create(&self, comment: NewComment) -> Result<Comment, RepositoryError> {
        self.db
            .run(move |conn| {
                let at = comment.created_at.naive_utc();
                let row = NewCommentRow {
                    task_id: comment.task_id.0,
                    author_id: comment.author_id.0,
                    body: comment.body.as_str(),
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(task_comments::table)
                    .values(&row)
                    .returning(returning::<CommentRow>())
                    .get_result::<CommentRow>(conn)
                    .map(Comment::from)
                    .map_err(db)
            })
            .await
    }

    async fn list(&self, task: TaskId, page: PageRequest) -> Result<Page<Comment>, RepositoryError> {
        self.db
            .run(move |conn| {
                let of_task = || task_comments::table.filter(task_comments::task_id.eq(task.0));
                let total: i64 = of_task().count().get_result(conn).map_err(db)?;
                counted_page(page, total, || {
                    let rows: Vec<CommentRow> = of_task()
                        .select(CommentRow::as_select())
                        // Ids grow with insertion, so this is oldest first, served by (task_id, id).
                        .order(task_comments::id.asc())
                        .limit(page.limit())
                        .offset(page.offset())
                        .load(conn)
                        .map_err(db)?;
                    Ok(rows.into_iter().map(Comment::from).collect())
                })
            })
            .await
    }

    async fn find(&self, task: TaskId, id: i64) -> Result<Option<Comment>, RepositoryError> {
        self.db
            .run(move |conn| {
                task_comments::table
                    .find(id)
                    .filter(task_comments::task_id.eq(task.0))
                    .select(CommentRow::as_select())
                    .first::<CommentRow>(conn)
                    .optional()
                    .map(|row| row.map(Comment::from))
                    .map_err(db)
            })
            .await
    }

    async fn delete(&self, id: i64) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| diesel::delete(task_comments::table.find(id)).execute(conn).map(|n| n > 0).map_err(db))
            .await
    }
}

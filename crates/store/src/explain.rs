//! `EXPLAIN` of a query built with Diesel, for the tests that hold a statement to its plan.

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

use crate::AnyConnection;
use crate::connection::Db;

/// `EXPLAIN ...` of a query, with its binds, answering rows of `ST`: PostgreSQL's JSON plan is one
/// text, SQLite's `EXPLAIN QUERY PLAN` four columns (the last is the step).
pub(crate) struct Explain<Q, ST> {
    prefix: &'static str,
    query: Q,
    answers: std::marker::PhantomData<ST>,
}

impl<Q, ST> Explain<Q, ST> {
    pub(crate) fn new(prefix: &'static str, query: Q) -> Self {
        Self { prefix, query, answers: std::marker::PhantomData }
    }
}

impl<Q, ST: diesel::expression::TypedExpressionType> Query for Explain<Q, ST> {
    type SqlType = ST;
}

impl<Q, ST> QueryId for Explain<Q, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<Db>, ST> QueryFragment<Db> for Explain<Q, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q, ST> RunQueryDsl<AnyConnection> for Explain<Q, ST> {}

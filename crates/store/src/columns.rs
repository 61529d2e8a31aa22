//! Column lists said once.
//!
//! Diesel reads a row struct by name (`#[derive(Selectable)]`, `Row::as_select()`) and writes
//! one by name (`Insertable`, `AsChangeset`), so most rows need nothing here. Statements written
//! out by hand (to be prepared once per connection, or to name columns Diesel's table leaves
//! out) also need the columns as SQL text and their binds: [`row!`] and [`values!`] declare such
//! a row once and derive those from it, so they cannot drift apart.

use diesel::Selectable;

use crate::connection::Db;

/// `a, b, c`: the names, as SQL text, in the order given.
macro_rules! column_list {
    ($first:ident $(, $rest:ident)* $(,)?) => {
        concat!(stringify!($first) $(, ", ", stringify!($rest))*)
    };
}

/// A row read by name from `$table`: the struct, `Queryable` and `Selectable` (so
/// `Row::as_select()` is its select clause), and `Row::COLUMNS`, the same columns as SQL text in
/// the same order, for statements written out by hand (`RETURNING ...`). Its field names are its
/// column names; a visibility before `struct` is given to the struct, its fields and `COLUMNS`.
macro_rules! row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident in $table:ident {
            $($(#[$field_meta:meta])* $field:ident: $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(diesel::Queryable, diesel::Selectable)]
        #[diesel(table_name = $table)]
        $vis struct $name {
            $($(#[$field_meta])* $vis $field: $ty,)+
        }

        impl $name {
            /// The columns `Self::as_select()` reads, as SQL, in its order.
            $vis const COLUMNS: &'static str = $crate::columns::column_list!($($field),+);
        }
    };
}

/// Values that a statement written out by hand writes: the struct, `COLUMNS` (their names as
/// SQL, an `INSERT`'s column list) and `walk` (their binds in the same order: an `INSERT`'s
/// values, or with `assign` an `UPDATE`'s `column = value, ...`), each field with its SQL type.
///
/// For the hot writes Diesel's own `Insertable`/`AsChangeset` clauses would serve, but they walk
/// every value again to ask whether it writes anything (twice per execution: once to check the
/// statement may stay prepared, once for the binds), which measured a task insert's per-execution
/// work up from about 0.8 µs to 1.5 µs; `walk` is the plain sequence of binds.
///
/// `walk` serves every backend, bounded by each field's type: two fields whose types differ only
/// in a lifetime (`&'a str` and `&'static str`) make those bounds ambiguous, so give them one.
///
/// Followed by `columns Name;`, it also declares `Name`: the same values for many rows, one
/// `Vec` per column, whose `walk` binds each as a PostgreSQL array (`unnest(...)`'s arguments),
/// so that one statement of fixed text writes a whole batch of rows.
macro_rules! values {
    (
        $(#[$meta:meta])*
        struct $name:ident $(<$lt:lifetime>)? {
            $first:ident: $first_ty:ty => $first_sql:ty
            $(, $field:ident: $ty:ty => $sql:ty)* $(,)?
        }
        $(#[$cols_meta:meta])*
        columns $cols:ident;
    ) => {
        $crate::columns::values! {
            $(#[$meta])*
            struct $name $(<$lt>)? { $first: $first_ty => $first_sql $(, $field: $ty => $sql)* }
        }

        $(#[$cols_meta])*
        struct $cols $(<$lt>)? {
            $first: Vec<$first_ty>,
            $($field: Vec<$ty>,)*
        }

        impl $(<$lt>)? $cols $(<$lt>)? {
            /// `column = v.column, ...`: an `UPDATE ... FROM v`'s `SET`, `v` the rows unnested.
            const ASSIGNED_FROM_V: &'static str =
                concat!(stringify!($first), " = v.", stringify!($first) $(, ", ", stringify!($field), " = v.", stringify!($field))*);

            fn with_capacity(rows: usize) -> Self {
                Self { $first: Vec::with_capacity(rows), $($field: Vec::with_capacity(rows),)* }
            }

            fn push(&mut self, row: $name $(<$lt>)?) {
                self.$first.push(row.$first);
                $(self.$field.push(row.$field);)*
            }

            /// One array bind per column, separated by commas, in the order of the row's
            /// `COLUMNS`.
            fn walk<'b>(
                &'b self,
                out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                out.push_bind_param::<diesel::sql_types::Array<$first_sql>, _>(&self.$first)?;
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<diesel::sql_types::Array<$sql>, _>(&self.$field)?;
                )*
                Ok(())
            }
        }
    };
    (
        $(#[$meta:meta])*
        struct $name:ident $(<$lt:lifetime>)? {
            $first:ident: $first_ty:ty => $first_sql:ty
            $(, $field:ident: $ty:ty => $sql:ty)* $(,)?
        }
    ) => {
        $(#[$meta])*
        struct $name $(<$lt>)? {
            $first: $first_ty,
            $($field: $ty,)*
        }

        impl $(<$lt>)? $name $(<$lt>)? {
            /// The columns [`Self::walk`] writes, in its order.
            const COLUMNS: &'static str = $crate::columns::column_list!($first $(, $field)*);

            /// The values, separated by commas, each preceded by `column = ` when `assign` (an
            /// `UPDATE`'s `SET`), in the order of [`Self::COLUMNS`] (an `INSERT`'s).
            fn walk<'b, DB>(
                &'b self,
                out: &mut diesel::query_builder::AstPass<'_, 'b, DB>,
                assign: bool,
            ) -> diesel::QueryResult<()>
            where
                DB: diesel::backend::Backend
                    + diesel::sql_types::HasSqlType<$first_sql>
                    $(+ diesel::sql_types::HasSqlType<$sql>)*,
                $first_ty: diesel::serialize::ToSql<$first_sql, DB>,
                $($ty: diesel::serialize::ToSql<$sql, DB>,)*
            {
                if assign {
                    out.push_sql(concat!(stringify!($first), " = "));
                }
                out.push_bind_param::<$first_sql, _>(&self.$first)?;
                $(
                    out.push_sql(if assign { concat!(", ", stringify!($field), " = ") } else { ", " });
                    out.push_bind_param::<$sql, _>(&self.$field)?;
                )*
                Ok(())
            }
        }
    };
}

pub(crate) use {column_list, row, values};

/// The columns `Row` reads, as Diesel's plain tuple of columns, for `RETURNING` clauses.
/// `AnyConnection` runs an `INSERT`/`UPDATE ... RETURNING` on the engine's own connection, where
/// `Row::as_returning()` (built for the two-engine backend) is no valid SQL; the tuple is valid on
/// every engine, and reads the same columns in the same order.
pub(crate) fn returning<Row: Selectable<Db>>() -> Row::SelectExpression {
    Row::construct_selection()
}

//! Diesel's view of the tables. Types are the ones both engines share (`Timestamp`, not
//! `Timestamptz`), so that one query serves PostgreSQL and SQLite.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        username_key -> Text,
        email -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        status -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        bio -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        totp_enabled -> Bool,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        token_generation -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tasks (id) {
        id -> BigInt,
        title -> Text,
        description -> Nullable<Text>,
        status -> Text,
        priority -> Text,
        priority_rank -> SmallInt,
        due_date -> Nullable<Timestamp>,
        owner_id -> BigInt,
        assignee_id -> Nullable<BigInt>,
        completed_at -> Nullable<Timestamp>,
        version -> BigInt,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    task_tags (task_id, tag) {
        task_id -> BigInt,
        tag -> Text,
        position -> Integer,
    }
}

diesel::table! {
    task_comments (id) {
        id -> BigInt,
        task_id -> BigInt,
        author_id -> BigInt,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> BigInt,
        key -> Text,
        request_hash -> Text,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        response_location -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    totp_credentials (user_id) {
        user_id -> BigInt,
        secret -> Text,
        last_step -> Nullable<BigInt>,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    totp_recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oauth_identities (provider, subject) {
        provider -> Text,
        subject -> Text,
        user_id -> BigInt,
        email -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth_states (state_hash) {
        state_hash -> Text,
        provider -> Text,
        pkce_verifier -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target_id -> Nullable<BigInt>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        details -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(totp_recovery_codes -> users (user_id));
diesel::joinable!(totp_credentials -> users (user_id));
diesel::joinable!(oauth_identities -> users (user_id));
diesel::joinable!(task_tags -> tasks (task_id));
diesel::joinable!(task_comments -> tasks (task_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    tasks,
    task_tags,
    task_comments,
    idempotency_keys,
    totp_credentials,
    totp_recovery_codes,
    oauth_identities,
    oauth_states,
    audit_log,
);

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
        signed_in_at -> Timestamp,
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
        /// JSON array of the task's tags, in the client's order; `task_tags` mirrors it (triggers).
        tags -> Text,
        /// The project the task belongs to; null for a personal task.
        project_id -> Nullable<BigInt>,
        /// An RFC 5545 RRULE: completing the task makes the next occurrence.
        recurrence -> Nullable<Text>,
        /// The occurrence this one follows (unique: one next occurrence per task).
        previous_id -> Nullable<BigInt>,
        /// The task it is a subtask of.
        parent_id -> Nullable<BigInt>,
        /// Whether an open task blocks it, kept by triggers on `task_relations` and `tasks`.
        blocked -> Bool,
        /// The bucket of its project's board; null for a personal task.
        bucket_id -> Nullable<BigInt>,
        /// Where a move put it in its bucket; null: `id * 65536` (see `workbench_tasks::board`).
        position -> Nullable<BigInt>,
        /// JSON object of its custom field values by field id; `task_field_values` mirrors it.
        fields -> Text,
    }
}

diesel::table! {
    /// Blockers, related tasks and duplicates (subtasks are `tasks.parent_id`), stored from the
    /// side that names them.
    task_relations (task_id, kind, other_id) {
        task_id -> BigInt,
        kind -> Text,
        other_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// The columns of project boards.
    buckets (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        task_limit -> Nullable<Integer>,
        done -> Bool,
        position -> BigInt,
        /// How many tasks it holds, kept by triggers on `tasks`.
        task_count -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Projects' custom fields.
    project_fields (id) {
        id -> BigInt,
        project_id -> BigInt,
        name -> Text,
        kind -> Text,
        /// A select field's options, as a JSON array.
        options -> Nullable<Text>,
        required -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// The creation keys of the tasks of each side of a list and each status, kept by triggers on
    /// `tasks` (the `task_status_keys` migration): a status-filtered page in creation order is a
    /// range of the primary key. `side`: 0, the personal tasks `side_id` owns; 1, the personal
    /// tasks assigned to `side_id` that it does not own; 2, the tasks of project `side_id`.
    task_status_keys (side, side_id, status, created_at, task_id) {
        side -> SmallInt,
        side_id -> BigInt,
        status -> Text,
        created_at -> Timestamp,
        task_id -> BigInt,
    }
}

diesel::table! {
    /// The index of custom field values: `tasks.fields` mirrored by triggers, a row per value.
    task_field_values (task_id, field_id) {
        task_id -> BigInt,
        field_id -> BigInt,
        value_text -> Nullable<Text>,
        value_number -> Nullable<Double>,
        /// The task's `created_at` (which never changes): a field's values walked in the tasks'
        /// creation order, along the value indexes.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// How many tasks each counter holds, per status: `user_id` is a user's id for the personal
    /// tasks they own or are assigned, 0 for every task, minus a project's id for its tasks.
    task_counts (user_id, status) {
        user_id -> BigInt,
        status -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    /// Changes to `task_counts` not yet folded into it (PostgreSQL; always empty on SQLite).
    task_count_changes (id) {
        id -> BigInt,
        user_id -> BigInt,
        status -> Text,
        delta -> BigInt,
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
        browser_hash -> Text,
        nonce -> Nullable<Text>,
    }
}

diesel::table! {
    provider_sessions (family_id) {
        family_id -> Text,
        user_id -> BigInt,
        issuer -> Text,
        subject -> Text,
        sid -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    logout_tokens (issuer, jti) {
        issuer -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    mfa_tokens (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        provider -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        idp_issuer -> Nullable<Text>,
        idp_subject -> Nullable<Text>,
        idp_sid -> Nullable<Text>,
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

diesel::table! {
    jobs (id) {
        id -> BigInt,
        kind -> Text,
        args -> Text,
        priority -> SmallInt,
        state -> Text,
        run_at -> Timestamp,
        attempt -> Integer,
        max_attempts -> Integer,
        errors -> Text,
        unique_key -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        attempted_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    schedule_runs (id) {
        id -> BigInt,
        schedule -> Text,
        slot -> Timestamp,
        job_id -> Nullable<BigInt>,
        enqueued_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        duration_ms -> Nullable<BigInt>,
        items_affected -> Nullable<BigInt>,
        error -> Nullable<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    /// Domain events waiting to be published (see `outbox.rs`).
    outbox (id) {
        id -> BigInt,
        event -> Text,
        subject_id -> BigInt,
        audience -> Text,
        payload -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    outbox_relay (name) {
        name -> Text,
        holder -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> BigInt,
        owner_id -> BigInt,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        subscription_id -> BigInt,
        event_id -> BigInt,
        event -> Text,
        message_id -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        subscription_id -> BigInt,
        attempt -> Integer,
        attempted_at -> Timestamp,
        response_status -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
        succeeded -> Bool,
    }
}

diesel::table! {
    inbound_webhooks (id) {
        id -> BigInt,
        provider -> Text,
        delivery_id -> Text,
        event_type -> Text,
        payload -> Text,
        received_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        result -> Nullable<Text>,
        processed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    categories (id) {
        id -> BigInt,
        name -> Text,
        /// The lower-cased name (every script), folded in Rust: the list's order.
        name_key -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

// The product columns Diesel reads and writes. The derived columns `name_key`, `brand_key` and
// `search_text` (lower-cased in Rust, every script) are left out: Diesel's tables hold at most 16
// columns without its `32-column-tables` feature, so `crate::products` names them in SQL.
diesel::table! {
    products (id) {
        id -> BigInt,
        name -> Text,
        category_id -> BigInt,
        brand -> Text,
        model -> Nullable<Text>,
        description -> Nullable<Text>,
        price_cents -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        warranty_months -> Integer,
        warranty_conditions -> Nullable<Text>,
        manufacturer_website -> Nullable<Text>,
        /// A JSON object, as text on both engines (key order kept).
        specifications -> Text,
        status -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_products (id) {
        id -> BigInt,
        user_id -> BigInt,
        product_id -> BigInt,
        serial_number -> Nullable<Text>,
        purchase_date -> Nullable<Date>,
        purchase_price_cents -> Nullable<BigInt>,
        warranty_expires -> Nullable<Date>,
        status -> Text,
        notes -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Offered on the market (see `crate::trades`).
        tradeable -> Bool,
    }
}

diesel::table! {
    /// Each item reminded of its warranty's end date, once per date.
    warranty_reminders (user_product_id, warranty_expires) {
        user_product_id -> BigInt,
        warranty_expires -> Date,
        reminded_at -> Timestamp,
    }
}

diesel::table! {
    /// Stored files (see `crate::files`).
    files (id) {
        id -> BigInt,
        owner_id -> BigInt,
        filename -> Text,
        /// The lower-cased file name (every script), folded in Rust: what search matches.
        name_key -> Text,
        content_type -> Text,
        size -> BigInt,
        kind -> Text,
        sha256 -> Text,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        /// Audio stream headers, a JSON object.
        audio -> Nullable<Text>,
        task_id -> Nullable<BigInt>,
        user_product_id -> Nullable<BigInt>,
        blob_key -> Text,
        thumbnail_key -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Finished audio renditions (see `crate::renditions`).
    file_renditions (file_id, codec, kbps) {
        file_id -> BigInt,
        codec -> Text,
        kbps -> Integer,
        blob_key -> Text,
        size -> BigInt,
        sha256 -> Text,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    /// Radio stations (see `crate::radio`).
    radio_stations (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Nullable<Text>,
        owner_id -> BigInt,
        is_public -> Bool,
        format -> Text,
        key_digest -> Text,
        now_playing_title -> Nullable<Text>,
        now_playing_artist -> Nullable<Text>,
        now_playing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// A station's playlist, in order.
    radio_playlist (station_id, position) {
        station_id -> BigInt,
        position -> Integer,
        file_id -> BigInt,
    }
}

diesel::table! {
    /// Trades between owners (see `crate::trades`).
    trades (id) {
        id -> BigInt,
        parent_id -> Nullable<BigInt>,
        proposer_id -> BigInt,
        recipient_id -> BigInt,
        message -> Nullable<Text>,
        status -> Text,
        expires_at -> Timestamp,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The items of each trade, by side (`offered` by the proposer, `requested` of the recipient).
    trade_items (trade_id, user_product_id) {
        trade_id -> BigInt,
        user_product_id -> BigInt,
        side -> Text,
    }
}

diesel::table! {
    /// Projects (see `crate::projects`).
    projects (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        owner_id -> BigInt,
        archived -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    project_members (project_id, user_id) {
        project_id -> BigInt,
        user_id -> BigInt,
        role -> Text,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    /// Invitations, known by their token's SHA-256.
    project_invites (id) {
        id -> BigInt,
        project_id -> BigInt,
        token_digest -> Text,
        role -> Text,
        max_uses -> Nullable<Integer>,
        uses -> Integer,
        expires_at -> Timestamp,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Chat rooms (see `crate::chat`).
    chat_rooms (id) {
        id -> BigInt,
        slug -> Text,
        description -> Nullable<Text>,
        is_private -> Bool,
        created_by -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    chat_members (room_id, user_id) {
        room_id -> BigInt,
        user_id -> BigInt,
        added_at -> Timestamp,
    }
}

diesel::table! {
    chat_messages (id) {
        id -> BigInt,
        /// `room:<id>` or `dm:<low user id>:<high user id>`: what history is read by.
        conversation -> Text,
        room_id -> Nullable<BigInt>,
        sender_id -> BigInt,
        recipient_id -> Nullable<BigInt>,
        content -> Text,
        created_at -> Timestamp,
        /// The content lower-cased (every script, folded in Rust): what search matches, through
        /// a trigram index.
        search_text -> Text,
        /// When its author last corrected it.
        edited_at -> Nullable<Timestamp>,
        /// When it was taken back (a tombstone: content and search text empty).
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Reactions to chat messages: one row per message, emoji and user.
    chat_reactions (message_id, emoji, user_id) {
        message_id -> BigInt,
        emoji -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Files carried by chat messages, in the order sent (see the `message_attachments` migration).
    chat_attachments (message_id, file_id) {
        message_id -> BigInt,
        file_id -> BigInt,
        position -> SmallInt,
    }
}

diesel::table! {
    /// Each reader's mark in a room (see the `conversations` migration; a direct conversation's two
    /// marks are in its row of `chat_conversations`, see `direct_marks_in_their_conversation`).
    chat_reads (user_id, conversation) {
        user_id -> BigInt,
        conversation -> Text,
        read_up_to -> BigInt,
        read_seq -> BigInt,
        has_written -> Bool,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(totp_recovery_codes -> users (user_id));
diesel::joinable!(totp_credentials -> users (user_id));
diesel::joinable!(oauth_identities -> users (user_id));
diesel::joinable!(mfa_tokens -> users (user_id));
diesel::table! {
    /// What a CalDAV client wrote beside a task: the UID and resource name it chose and its last
    /// calendar object as sent. A task no client wrote has no row.
    calendar_objects (task_id) {
        task_id -> BigInt,
        uid -> Text,
        name -> Text,
        source -> Text,
    }
}

diesel::table! {
    /// Each calendar's change log, kept by triggers on `tasks` (migration `calendars`): `calendar`
    /// is a user's id for their personal tasks, minus a project's id for its tasks; `seq` is the
    /// row's place in commit order, null until numbered.
    calendar_changes (id) {
        id -> BigInt,
        calendar -> BigInt,
        task_id -> BigInt,
        gone_name -> Nullable<Text>,
        seq -> Nullable<BigInt>,
    }
}

diesel::joinable!(calendar_objects -> tasks (task_id));
diesel::joinable!(task_tags -> tasks (task_id));
diesel::joinable!(tasks -> projects (project_id));
diesel::joinable!(task_comments -> tasks (task_id));
diesel::joinable!(webhook_subscriptions -> users (owner_id));
diesel::joinable!(webhook_deliveries -> webhook_subscriptions (subscription_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(products -> categories (category_id));
diesel::joinable!(user_products -> products (product_id));
diesel::joinable!(user_products -> users (user_id));
diesel::joinable!(warranty_reminders -> user_products (user_product_id));
diesel::joinable!(files -> users (owner_id));
diesel::joinable!(files -> tasks (task_id));
diesel::joinable!(files -> user_products (user_product_id));
diesel::joinable!(chat_members -> chat_rooms (room_id));
diesel::joinable!(chat_attachments -> files (file_id));
diesel::joinable!(file_renditions -> files (file_id));
diesel::joinable!(chat_attachments -> chat_messages (message_id));
diesel::joinable!(project_members -> projects (project_id));
diesel::joinable!(trade_items -> trades (trade_id));
diesel::joinable!(trade_items -> user_products (user_product_id));
diesel::joinable!(project_members -> users (user_id));
diesel::joinable!(project_invites -> projects (project_id));
diesel::joinable!(chat_rooms -> users (created_by));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    provider_sessions,
    refresh_tokens,
    tasks,
    task_counts,
    task_count_changes,
    task_tags,
    task_comments,
    idempotency_keys,
    totp_credentials,
    totp_recovery_codes,
    oauth_identities,
    oauth_states,
    mfa_tokens,
    audit_log,
    jobs,
    schedule_runs,
    outbox,
    outbox_relay,
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
    inbound_webhooks,
    categories,
    products,
    user_products,
    warranty_reminders,
    files,
    file_renditions,
    radio_stations,
    radio_playlist,
    chat_rooms,
    chat_members,
    chat_messages,
    chat_reactions,
    chat_attachments,
    chat_reads,
    projects,
    project_members,
    project_invites,
    trades,
    trade_items,
    calendar_objects,
    calendar_changes,
);

//! diesel table definitions for the tables the repositories touch (mirrors `migrations/`).

diesel::table! {
    users (id) {
        id -> Text,
        oidc_issuer -> Text,
        oidc_subject -> Text,
        email -> Text,
        name -> Text,
        avatar_url -> Nullable<Text>,
        created_at -> Text,
        last_login_at -> Text,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Binary,
        user_id -> Text,
        created_at -> Text,
        expires_at -> Text,
        last_extended_at -> Text,
    }
}

diesel::table! {
    conversations (id) {
        id -> Text,
        user_id -> Text,
        title -> Text,
        is_pinned -> Bool,
        next_table_number -> BigInt,
        share_token -> Nullable<Text>,
        shared_at -> Nullable<Text>,
        created_at -> Text,
        updated_at -> Text,
        is_archived -> Bool,
        assistant_id -> Nullable<Text>,
        assistant_instructions -> Nullable<Text>,
        assistant_model -> Nullable<Text>,
        assistant_temperature -> Nullable<Double>,
        assistant_tools -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        conversation_id -> Text,
        role -> Text,
        content -> Text,
        status -> Text,
        error_message -> Nullable<Text>,
        sql_query -> Nullable<Text>,
        reasoning -> Nullable<Text>,
        tool_call_trace -> Nullable<Text>,
        input_tokens -> BigInt,
        output_tokens -> BigInt,
        token_count -> BigInt,
        model -> Nullable<Text>,
        created_at -> Text,
    }
}

diesel::table! {
    datasets (id) {
        id -> Text,
        conversation_id -> Text,
        name -> Text,
        source -> Text,
        url -> Text,
        upload_id -> Nullable<Text>,
        format -> Text,
        compression -> Text,
        status -> Text,
        error_message -> Nullable<Text>,
        row_count -> BigInt,
        column_count -> BigInt,
        schema_json -> Text,
        column_descriptions -> Text,
        file_size_bytes -> Nullable<BigInt>,
        etag -> Nullable<Text>,
        last_modified -> Nullable<Text>,
        version -> Nullable<Text>,
        created_at -> Text,
        loaded_at -> Nullable<Text>,
    }
}

diesel::table! {
    token_usage (id) {
        id -> Text,
        user_id -> Text,
        conversation_id -> Nullable<Text>,
        message_id -> Nullable<Text>,
        call_kind -> Text,
        provider -> Text,
        model_name -> Text,
        input_tokens -> BigInt,
        output_tokens -> BigInt,
        estimated -> Bool,
        cost -> Double,
        timestamp -> Text,
    }
}

diesel::table! {
    uploads (id) {
        id -> Text,
        user_id -> Text,
        sha256 -> Text,
        size_bytes -> BigInt,
        original_name -> Text,
        format -> Text,
        compression -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    query_history (id) {
        id -> Text,
        user_id -> Text,
        conversation_id -> Nullable<Text>,
        source -> Text,
        query -> Text,
        status -> Text,
        error_message -> Nullable<Text>,
        row_count -> Nullable<BigInt>,
        execution_time_ms -> Nullable<Double>,
        is_starred -> Bool,
        created_at -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(conversations -> users (user_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(datasets -> conversations (conversation_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    conversations,
    messages,
    datasets,
    token_usage
);

diesel::table! {
    oidc_pending_logins (state) {
        state -> Text,
        pkce_verifier -> Text,
        nonce -> Text,
        referral_key -> Nullable<Text>,
        created_at -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    referral_keys (key) {
        key -> Text,
        created_by -> Nullable<Text>,
        used_by -> Nullable<Text>,
        created_at -> Text,
        used_at -> Nullable<Text>,
    }
}

diesel::joinable!(referral_keys -> users (used_by));
diesel::allow_tables_to_appear_in_same_query!(referral_keys, users);

diesel::table! {
    user_settings (user_id) {
        user_id -> Text,
        dev_mode -> Bool,
        selected_model -> Nullable<Text>,
        updated_at -> Text,
        tools_allow -> Text,
        tools_deny -> Text,
    }
}

diesel::table! {
    saved_queries (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        query -> Text,
        result_json -> Nullable<Text>,
        execution_time_ms -> Nullable<Double>,
        folder -> Text,
        is_pinned -> Bool,
        share_token -> Nullable<Text>,
        shared_at -> Nullable<Text>,
        created_at -> Text,
    }
}

diesel::table! {
    assistants (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        description -> Text,
        instructions -> Text,
        model -> Nullable<Text>,
        temperature -> Nullable<Double>,
        tools -> Nullable<Text>,
        datasets -> Text,
        is_shared -> Bool,
        created_at -> Text,
        updated_at -> Text,
    }
}

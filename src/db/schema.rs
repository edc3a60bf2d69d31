//! Table definitions shared by both backends (hand-written; both migration trees
//! produce exactly these tables and columns, which `scripts/check-migrations.sh` verifies).

diesel::table! {
    pharmacies (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        postal_code -> Text,
        address -> Text,
        phone -> Text,
        email -> Text,
        founder -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        totp_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamp>,
        totp_last_step -> Nullable<BigInt>,
        disabled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (pharmacy_id, user_id) {
        pharmacy_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        stage -> Text,
        csrf_token -> Text,
        pending_totp_secret -> Nullable<Text>,
        client_addr -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        account -> Text,
        client_addr -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    patients (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        name_kanji -> Text,
        name_kana -> Text,
        name_kana_key -> Text,
        birth_date -> Date,
        sex -> Text,
        postal_code -> Nullable<Text>,
        address -> Nullable<Text>,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        insurer_number -> Nullable<Text>,
        insured_symbol -> Nullable<Text>,
        insured_number -> Nullable<Text>,
        insured_branch -> Nullable<Text>,
        public_expenses -> Text,
        allergies -> Text,
        notes -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        email_allowed -> Bool,
    }
}

diesel::table! {
    audit_events (chain_key, seq) {
        chain_key -> Text,
        seq -> BigInt,
        id -> Text,
        occurred_at -> Timestamp,
        pharmacy_id -> Nullable<Text>,
        actor_user_id -> Nullable<Text>,
        actor_name -> Nullable<Text>,
        action -> Text,
        subject_type -> Nullable<Text>,
        subject_id -> Nullable<Text>,
        outcome -> Text,
        client_addr -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_chain_heads (chain_key) {
        chain_key -> Text,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    jobs (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        kind -> Text,
        subject_id -> Nullable<Text>,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        run_at -> Timestamp,
        deadline_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    job_attempts (pharmacy_id, job_id, attempt) {
        pharmacy_id -> Text,
        job_id -> Text,
        attempt -> Integer,
        worker -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        outcome -> Text,
        detail -> Text,
    }
}

diesel::table! {
    notifications (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        recipient_kind -> Text,
        recipient_id -> Nullable<Text>,
        recipient_address -> Nullable<Text>,
        kind -> Text,
        template -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        message_id -> Text,
        status -> Text,
        attempts -> Integer,
        send_count -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_attachments (pharmacy_id, notification_id, position) {
        pharmacy_id -> Text,
        notification_id -> Text,
        position -> Integer,
        filename -> Text,
        content_type -> Text,
        content -> Binary,
    }
}

diesel::table! {
    clinics (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        name -> Text,
        institution_code -> Nullable<Text>,
        phone -> Nullable<Text>,
        fax -> Nullable<Text>,
        email -> Nullable<Text>,
        email_allowed -> Bool,
        notes -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sender_addresses -> Text,
    }
}

diesel::table! {
    drug_master_imports (id) {
        id -> Text,
        source -> Text,
        file_name -> Text,
        file_sha256 -> Text,
        edition -> Text,
        imported_at -> Timestamp,
        added -> Integer,
        changed -> Integer,
        unchanged -> Integer,
        delisted -> Integer,
        rejected -> Integer,
    }
}

diesel::table! {
    drug_products (yj_code) {
        yj_code -> Text,
        receipt_code -> Nullable<Text>,
        general_name_code -> Nullable<Text>,
        general_name -> Nullable<Text>,
        name -> Text,
        name_kana -> Nullable<Text>,
        ingredient_text -> Text,
        standard -> Text,
        category -> Text,
        route -> Text,
        maker -> Text,
        price -> Text,
        search_text -> Text,
        narcotic -> Text,
        psychotropic -> Text,
        psychotropic_class -> Nullable<Text>,
        stimulant_precursor -> Text,
        poison -> Text,
        powerful -> Text,
        refrigerated -> Text,
        storage_min_c -> Nullable<Integer>,
        storage_max_c -> Nullable<Integer>,
        transitional_until -> Nullable<Date>,
        delisted_edition -> Nullable<Text>,
        first_edition -> Text,
        last_edition -> Text,
        source -> Text,
        mhlw_hash -> Nullable<Text>,
        y_hash -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    drug_ingredients (yj_code, position) {
        yj_code -> Text,
        position -> Integer,
        name -> Text,
        curated -> Bool,
    }
}

diesel::table! {
    prescriptions (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        patient_id -> Text,
        source -> Text,
        institution_name -> Text,
        prescriber_name -> Text,
        issue_date -> Date,
        status -> Text,
        rules_version -> Text,
        checked_at -> Timestamp,
        dispensed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_reason -> Nullable<Text>,
        handed_over_at -> Nullable<Timestamp>,
        handed_over_by -> Nullable<Text>,
    }
}

diesel::table! {
    prescription_items (pharmacy_id, prescription_id, id) {
        pharmacy_id -> Text,
        prescription_id -> Text,
        id -> Text,
        rp_number -> Integer,
        seq -> Integer,
        drug_code -> Text,
        drug_name -> Text,
        yj_code -> Nullable<Text>,
        dose -> Text,
        usage -> Text,
        days -> Integer,
        as_needed -> Bool,
    }
}

diesel::table! {
    check_findings (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        prescription_id -> Text,
        kind -> Text,
        severity -> Text,
        item_id -> Text,
        item_name -> Text,
        other_source -> Nullable<Text>,
        other_id -> Nullable<Text>,
        other_name -> Nullable<Text>,
        rule -> Text,
        rule_source -> Text,
        message -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        inquiry_at -> Nullable<Timestamp>,
        inquiry_method -> Nullable<Text>,
        inquiry_contact -> Nullable<Text>,
        inquiry_question -> Nullable<Text>,
        inquiry_answer -> Nullable<Text>,
        inquiry_outcome -> Nullable<Text>,
        resolved_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    dispensed_items (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        patient_id -> Text,
        prescription_id -> Text,
        item_id -> Text,
        drug_code -> Text,
        drug_name -> Text,
        yj_code -> Nullable<Text>,
        dispensed_on -> Date,
        days -> Integer,
        as_needed -> Bool,
        created_at -> Timestamp,
        prescribed_code -> Nullable<Text>,
        substituted -> Bool,
        quantity -> Text,
        lot_number -> Nullable<Text>,
        lot_expiry -> Nullable<Date>,
    }
}

// E-prescriptions accepted from the national service.
diesel::table! {
    eps_prescriptions (pharmacy_id, prescription_id) {
        pharmacy_id -> Text,
        prescription_id -> Text,
        eps_id -> Text,
        access_code -> Text,
        issue_type -> Text,
        eps_status -> Text,
        state -> Text,
        signature_ok -> Bool,
        signature_detail -> Text,
        valid_until -> Date,
        refill_total -> Nullable<Integer>,
        refill_use -> Nullable<Integer>,
        narcotic -> Bool,
        payload -> Text,
        message_to_prescriber -> Nullable<Text>,
        result_job_id -> Nullable<Text>,
        result_error -> Nullable<Text>,
        registered_at -> Nullable<Timestamp>,
        accepted_by -> Text,
        accepted_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

// Who is accepting (or has accepted) a 引換番号 in this pharmacy.
diesel::table! {
    eps_claims (pharmacy_id, access_code) {
        pharmacy_id -> Text,
        access_code -> Text,
        claimed_by -> Text,
        claimed_at -> Timestamp,
        prescription_id -> Nullable<Text>,
    }
}

// Unreadable national-service messages, kept for inspection.
diesel::table! {
    eps_messages (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        operation -> Text,
        file_id -> Text,
        error -> Text,
        raw -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    declared_medications (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        patient_id -> Text,
        drug_code -> Nullable<Text>,
        yj_code -> Nullable<Text>,
        drug_name -> Text,
        origin -> Text,
        start_date -> Date,
        days -> Nullable<Integer>,
        as_needed -> Bool,
        note -> Text,
        ended_on -> Nullable<Date>,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> Text,
        idem_key -> Text,
        request_hash -> Text,
        status_code -> Nullable<Integer>,
        content_type -> Nullable<Text>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    guidance_consents (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        patient_id -> Text,
        kind -> Text,
        session_id -> Nullable<Text>,
        text_version -> Text,
        given_at -> Timestamp,
        valid_until -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        ended_reason -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
        recorded_by -> Text,
    }
}

diesel::table! {
    eligibility_requests (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        consent_date -> Date,
        visit_date -> Date,
        receipt_number -> Nullable<Text>,
        status -> Text,
        result -> Text,
        matched -> Integer,
        error -> Nullable<Text>,
        requested_by -> Text,
        requested_at -> Timestamp,
        fetched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    drug_information (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        patient_id -> Text,
        consent_id -> Text,
        fetch_id -> Text,
        drug_code -> Text,
        drug_name -> Text,
        yj_code -> Nullable<Text>,
        dispensed_on -> Date,
        days -> Integer,
        institution -> Text,
        fetched_at -> Timestamp,
        fetched_by -> Text,
    }
}

diesel::table! {
    guidance_records (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        session_id -> Text,
        patient_id -> Text,
        version -> Integer,
        subjective -> Text,
        objective -> Text,
        assessment -> Text,
        plan -> Text,
        topics -> Text,
        adherence -> Text,
        leftover -> Text,
        side_effects -> Text,
        follow_up_on -> Nullable<Date>,
        correction_reason -> Nullable<Text>,
        signed_by -> Text,
        signed_by_name -> Text,
        signed_at -> Timestamp,
        retain_until -> Date,
    }
}

diesel::table! {
    controlled_stock (pharmacy_id, product) {
        pharmacy_id -> Text,
        product -> Text,
        product_name -> Text,
        category -> Text,
        unit -> Text,
        balance -> BigInt,
        seq -> BigInt,
        head_hash -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    controlled_ledger (pharmacy_id, product, seq) {
        pharmacy_id -> Text,
        product -> Text,
        seq -> BigInt,
        id -> Text,
        kind -> Text,
        quantity -> BigInt,
        unit -> Text,
        lot -> Text,
        balance_after -> BigInt,
        actor -> Text,
        witness -> Text,
        reference -> Text,
        note -> Text,
        occurred_at -> Timestamp,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    deliveries (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        patient_id -> Text,
        method -> Text,
        state -> Text,
        destination -> Text,
        recipient_rules -> Text,
        handling_notes -> Text,
        window_start -> Timestamp,
        window_end -> Timestamp,
        requirements -> Text,
        needs_logger -> Bool,
        method_confirmed_by -> Nullable<Text>,
        courier_id -> Nullable<Text>,
        seal_number -> Nullable<Text>,
        version -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        logger_serial -> Nullable<Text>,
        logger_interval_seconds -> Nullable<Integer>,
        quarantine -> Text,
        quarantine_reason -> Nullable<Text>,
        quarantine_decided_by -> Nullable<Text>,
        quarantine_decided_at -> Nullable<Timestamp>,
        needs_followup -> Bool,
    }
}

diesel::table! {
    delivery_prescriptions (pharmacy_id, prescription_id) {
        pharmacy_id -> Text,
        prescription_id -> Text,
        delivery_id -> Text,
    }
}

diesel::table! {
    delivery_items (pharmacy_id, delivery_id, dispensed_item_id) {
        pharmacy_id -> Text,
        delivery_id -> Text,
        dispensed_item_id -> Text,
        prescription_id -> Text,
        product_code -> Text,
        product_name -> Text,
        quantity -> Text,
        lot -> Nullable<Text>,
        label_range -> Nullable<Text>,
    }
}

diesel::table! {
    delivery_events (pharmacy_id, delivery_id, seq) {
        pharmacy_id -> Text,
        delivery_id -> Text,
        seq -> Integer,
        state -> Text,
        actor -> Text,
        place -> Text,
        note -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::joinable!(memberships -> pharmacies (pharmacy_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(drug_ingredients -> drug_products (yj_code));

diesel::table! {
    prescription_copies (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        channel -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        message_id -> Nullable<Text>,
        raw_sha256 -> Text,
        raw_size -> BigInt,
        from_address -> Nullable<Text>,
        fax_number -> Nullable<Text>,
        subject -> Text,
        body_text -> Text,
        sent_at -> Nullable<Timestamp>,
        clinic_id -> Nullable<Text>,
        duplicate_of -> Nullable<Text>,
        received_by -> Text,
        received_at -> Timestamp,
        handled_by -> Nullable<Text>,
        handled_at -> Nullable<Timestamp>,
        handled_note -> Nullable<Text>,
        version -> Integer,
    }
}

diesel::table! {
    copy_attachments (pharmacy_id, copy_id, position) {
        pharmacy_id -> Text,
        copy_id -> Text,
        position -> Integer,
        filename -> Text,
        media_type -> Text,
        sha256 -> Text,
        size -> BigInt,
        inline -> Bool,
    }
}

diesel::table! {
    copy_prescriptions (pharmacy_id, prescription_id) {
        pharmacy_id -> Text,
        prescription_id -> Text,
        copy_id -> Text,
        clinic_id -> Nullable<Text>,
        online_marked -> Bool,
        narcotic -> Bool,
        narcotic_reason -> Text,
        valid_until -> Date,
        copy_fields -> Text,
        original_state -> Text,
        original_fields -> Nullable<Text>,
        original_received_at -> Nullable<Timestamp>,
        original_received_by -> Nullable<Text>,
        storage_place -> Nullable<Text>,
        retain_until -> Nullable<Date>,
        due_on -> Nullable<Date>,
        escalate_on -> Nullable<Date>,
        last_requested_on -> Nullable<Date>,
        reconciled_at -> Nullable<Timestamp>,
        reconciled_by -> Nullable<Text>,
        version -> Integer,
    }
}

diesel::table! {
    original_discrepancies (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        prescription_id -> Text,
        field -> Text,
        label -> Text,
        copy_value -> Text,
        original_value -> Text,
        status -> Text,
        clinic_contacted -> Nullable<Bool>,
        what_changed -> Nullable<Text>,
        patient_contact_needed -> Nullable<Bool>,
        resolved_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    original_requests (pharmacy_id, clinic_id, request_date) {
        pharmacy_id -> Text,
        clinic_id -> Text,
        request_date -> Date,
        notification_id -> Text,
        prescriptions -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_tasks (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        kind -> Text,
        subject_type -> Text,
        subject_id -> Text,
        title -> Text,
        urgent -> Bool,
        due_on -> Nullable<Date>,
        created_at -> Timestamp,
        done_at -> Nullable<Timestamp>,
        done_by -> Nullable<Text>,
        done_note -> Nullable<Text>,
    }
}

diesel::table! {
    guidance_settings (pharmacy_id) {
        pharmacy_id -> Text,
        slot_minutes -> Integer,
        buffer_minutes -> Integer,
        qualification_url -> Text,
        version -> Integer,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pharmacist_hours (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        user_id -> Text,
        weekday -> Integer,
        start_time -> Text,
        end_time -> Text,
    }
}

diesel::table! {
    pharmacist_exceptions (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        user_id -> Text,
        day -> Date,
        closed -> Bool,
        start_time -> Nullable<Text>,
        end_time -> Nullable<Text>,
        reason -> Text,
    }
}

diesel::table! {
    guidance_sessions (pharmacy_id, id) {
        pharmacy_id -> Text,
        id -> Text,
        pharmacist_id -> Text,
        patient_id -> Text,
        prescription_id -> Nullable<Text>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        buffer_minutes -> Integer,
        status -> Text,
        booked_by -> Text,
        cancel_reason -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamp>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        meeting_url -> Nullable<Text>,
        identity_check -> Nullable<Text>,
        attendees -> Text,
        started_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        fallback -> Nullable<Text>,
        outcome_note -> Text,
        review_reasons -> Text,
        reviewed_by -> Nullable<Text>,
        review_note -> Text,
    }
}

diesel::table! {
    guidance_slot_claims (pharmacist_id, block_start) {
        pharmacist_id -> Text,
        block_start -> Timestamp,
        pharmacy_id -> Text,
        session_id -> Text,
    }
}

diesel::table! {
    guidance_reminders (pharmacy_id, session_id, kind, starts_at) {
        pharmacy_id -> Text,
        session_id -> Text,
        kind -> Text,
        starts_at -> Timestamp,
        due_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        notification_id -> Nullable<Text>,
    }
}

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    portal_link_uses (nonce) {
        nonce -> Text,
        pharmacy_id -> Text,
        session_id -> Text,
        action -> Text,
        used_at -> Timestamp,
    }
}

diesel::table! {
    delivery_custody (pharmacy_id, delivery_id) {
        pharmacy_id -> Text,
        delivery_id -> Text,
        code_hash -> Nullable<Text>,
        code_attempts -> Integer,
        code_locked -> Bool,
        code_used_at -> Nullable<Timestamp>,
        proxy_name -> Nullable<Text>,
        proxy_relation -> Nullable<Text>,
        proxy_confirmed_by -> Nullable<Text>,
        received_by -> Nullable<Text>,
        signature -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        next_attempt_at -> Nullable<Timestamp>,
        receipt_confirmed_at -> Nullable<Timestamp>,
        followup_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    temperature_readings (pharmacy_id, logger_serial, recorded_at) {
        pharmacy_id -> Text,
        logger_serial -> Text,
        recorded_at -> Timestamp,
        celsius -> Double,
        delivery_id -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    pharmacies,
    users,
    memberships,
    recovery_codes,
    sessions,
    login_failures,
    patients,
    audit_events,
    audit_chain_heads,
    jobs,
    job_attempts,
    notifications,
    notification_attachments,
    clinics,
    drug_master_imports,
    drug_products,
    drug_ingredients,
    prescriptions,
    prescription_items,
    check_findings,
    dispensed_items,
    declared_medications,
    idempotency_keys,
    eps_prescriptions,
    eps_claims,
    eps_messages,
    prescription_copies,
    copy_attachments,
    copy_prescriptions,
    original_discrepancies,
    original_requests,
    staff_tasks,
    temperature_readings,
    delivery_custody,
    guidance_settings,
    pharmacist_hours,
    pharmacist_exceptions,
    guidance_sessions,
    guidance_slot_claims,
    guidance_reminders,
    app_secrets,
    portal_link_uses,
    guidance_consents,
    eligibility_requests,
    drug_information,
    guidance_records,
    controlled_stock,
    controlled_ledger,
    deliveries,
    delivery_prescriptions,
    delivery_items,
    delivery_events,
);

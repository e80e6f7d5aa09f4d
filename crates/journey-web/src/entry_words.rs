//! The words the pages use for an entry: its type's label and its fields in a phrase.
//! A leaf: the timeline, the day's recap and the views use it.

/// How the pages name an entry type (the family's words: "use", "a day without use").
pub fn label(kind: &str) -> &'static str {
    match kind {
        "journey_started" => "Journey started",
        "craft_started" => "Started practising CRAFT",
        "use_observed" => "Saw use",
        "clean_day_observed" => "Saw a day without use",
        "day_status" => "Marked the day",
        "check_in" => "Check-in",
        "communication_broken" => "Contact broken off",
        "communication_restored" => "Contact restored",
        "treatment_entered" => "Entered treatment",
        "treatment_exited" => "Left treatment",
        "reward_given" => "Rewarded a day without use",
        "reward_withdrawn" => "Withheld a reward during use",
        "stepped_away" => "Stepped away",
        "natural_consequence_allowed" => "Let the consequence happen",
        "rescued" => "Rescued",
        "positive_communication" => "Positive message",
        "treatment_suggested" => "Suggested treatment",
        "treatment_enabled" => "Helped into treatment",
        "safety_check" => "Safety check",
        "self_care" => "Self-care",
        "note" => "Note",
        // Its score is the member's own: shown on their wellbeing page, not in the list.
        "wellbeing_checked" => "Wellbeing check-in",
        "retract" => "Retracted an entry",
        _ => "Entry",
    }
}

/// The details of an entry's fields in words ("status: no use", "12 minutes", the note).
pub fn details(kind: &str, fields: &serde_json::Value) -> String {
    let get = |name: &str| fields.get(name);
    let text = |name: &str| {
        get(name)
            .and_then(|v| v.as_str())
            .map(|s| s.replace('_', " "))
    };
    let mut parts: Vec<String> = Vec::new();
    match kind {
        "day_status" => parts.extend(text("status").map(|s| match s.as_str() {
            "unknown" => "not sure".to_string(),
            other => other.to_string(),
        })),
        "check_in" => parts.push(if get("kept").and_then(|v| v.as_bool()) == Some(true) {
            "kept".into()
        } else {
            "no answer".into()
        }),
        "rescued" if get("for_safety").and_then(|v| v.as_bool()) == Some(true) => {
            parts.push("for safety".into())
        }
        "treatment_entered" => parts.extend(text("modality")),
        "treatment_exited" => parts.extend(text("reason")),
        "treatment_suggested" => parts.extend(text("response")),
        "positive_communication" => parts.extend(text("channel")),
        "safety_check" => parts.extend(text("found")),
        "self_care" => parts.extend(
            get("minutes")
                .and_then(|v| v.as_u64())
                .map(|m| format!("{m} minutes")),
        ),
        "journey_started" => parts.extend(text("relationship")),
        "note" => parts.extend(get("text").and_then(|v| v.as_str()).map(str::to_string)),
        _ => {}
    }
    if let Some(list) = get("substances").and_then(|v| v.as_array()) {
        let names: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
        if !names.is_empty() {
            parts.push(names.join(", "));
        }
    }
    parts.join(" · ")
}

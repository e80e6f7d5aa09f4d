//! Realistic synthetic families, deterministic for a seed: baseline then CRAFT phases, days
//! nobody reported on, communication breaks, treatment episodes, relapses after rehab,
//! retractions. The output is a journey file (interchange format).

use chrono::{Days, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// What to generate.
pub struct Synth {
    pub seed: u64,
    pub families: usize,
    /// Days from each journey's start to `end`, inclusive.
    pub days: u32,
    /// The last day of every journey (usually today).
    pub end: NaiveDate,
    /// Prefix of the journey keys.
    pub prefix: String,
}

const RELATIONSHIPS: [&str; 6] = ["parent", "partner", "sibling", "child", "friend", "other"];
const SUBSTANCES: [&str; 6] = [
    "alcohol",
    "cannabis",
    "opioids",
    "stimulants",
    "sedatives",
    "other",
];
const REPORTERS: [&str; 4] = ["mom", "dad", "partner", "sister"];

struct Family<'a> {
    rng: ChaCha8Rng,
    key: String,
    lines: &'a mut Vec<String>,
    serial: u32,
}

impl Family<'_> {
    fn push(&mut self, kind: &str, on: NaiveDate, mut fields: Value) {
        let object = fields.as_object_mut().expect("fields are an object");
        object.insert("journey".into(), json!(self.key));
        object.insert("type".into(), json!(kind));
        object.insert("on".into(), json!(on.to_string()));
        if self.rng.gen_bool(0.3) {
            let by = REPORTERS[self.rng.gen_range(0..REPORTERS.len())];
            object.insert("by".into(), json!(by));
        }
        self.lines.push(fields.to_string());
    }

    /// A line with an explicit id, so that it can be retracted later.
    fn push_with_id(&mut self, kind: &str, on: NaiveDate, mut fields: Value) -> String {
        self.serial += 1;
        let id = format!("e{}", self.serial);
        fields
            .as_object_mut()
            .expect("object")
            .insert("entry".into(), json!(id));
        self.push(kind, on, fields);
        id
    }

    fn retract(&mut self, target: &str, reason: &str) {
        let line =
            json!({"journey": self.key, "type": "retract", "target": target, "reason": reason});
        self.lines.push(line.to_string());
    }
}

impl Synth {
    /// The journey file, one line per element, in a plausible recording order.
    pub fn generate(&self) -> Vec<String> {
        self.generate_range(0..self.families)
    }

    /// The lines of the families numbered `range` (0-based) of the `families`; key numbers
    /// are zero-padded to the width of `families` (at least 4 digits), so keys sort in order.
    pub fn generate_range(&self, range: std::ops::Range<usize>) -> Vec<String> {
        let mut lines = Vec::new();
        for index in range {
            let rng = ChaCha8Rng::seed_from_u64(
                self.seed.wrapping_mul(1_000_003).wrapping_add(index as u64),
            );
            let mut family = Family {
                rng,
                key: self.key(index),
                lines: &mut lines,
                serial: 0,
            };
            self.family(&mut family);
        }
        lines
    }

    /// The key of family number `index` (0-based).
    pub fn key(&self, index: usize) -> String {
        let width = self.families.to_string().len().max(4);
        format!("{}{:0width$}", self.prefix, index + 1)
    }

    fn family(&self, f: &mut Family) {
        let start = self.end - Days::new(u64::from(self.days.saturating_sub(1)));
        let relationship = RELATIONSHIPS[f.rng.gen_range(0..RELATIONSHIPS.len())];
        let first = f.rng.gen_range(0..SUBSTANCES.len());
        let mut substances = vec![SUBSTANCES[first]];
        if f.rng.gen_bool(0.3) {
            substances.push(SUBSTANCES[(first + 1 + f.rng.gen_range(0..4)) % SUBSTANCES.len()]);
        }
        f.push(
            "journey_started",
            start,
            json!({"relationship": relationship, "substances": substances}),
        );
        let baseline_days = f.rng.gen_range(14..50u32).min(self.days / 3);
        let craft_day = (f.rng.gen_bool(0.9)).then(|| start + Days::new(u64::from(baseline_days)));
        let coverage = f.rng.gen_range(0.45..0.95);
        let practice = f.rng.gen_range(0.2..0.95);
        let use_base = f.rng.gen_range(0.45..0.85);
        let mut use_rate: f64 = use_base;
        let mut silent_until: Option<NaiveDate> = None;
        let mut rehab_until: Option<(NaiveDate, &str)> = None;
        let mut outpatient_until: Option<NaiveDate> = None;
        let mut just_out_of_rehab = false;
        for offset in 0..self.days {
            let day = start + Days::new(u64::from(offset));
            let in_craft = craft_day.is_some_and(|c| day >= c);
            if craft_day == Some(day) {
                f.push("craft_started", day, json!({}));
            }
            if in_craft {
                // Practice lines up with fewer use days, slowly.
                let target = use_base * (1.0 - 0.6 * practice);
                use_rate += (target - use_rate) * 0.02;
            }
            if let Some((until, reason)) = rehab_until {
                if day >= until {
                    f.push("treatment_exited", day, json!({"reason": reason}));
                    rehab_until = None;
                    just_out_of_rehab = true;
                } else {
                    if f.rng.gen_bool(0.05) {
                        {
                            let value = f.rng.gen_range(10..120);
                            f.push("self_care", day, json!({"minutes": value}));
                        }
                    }
                    continue;
                }
            }
            if let Some(until) = outpatient_until {
                if day >= until {
                    let reason = if f.rng.gen_bool(0.6) {
                        "completed"
                    } else {
                        "left_early"
                    };
                    f.push("treatment_exited", day, json!({"reason": reason}));
                    outpatient_until = None;
                }
            }
            if let Some(until) = silent_until {
                if day < until {
                    continue;
                }
                f.push("communication_restored", day, json!({}));
                silent_until = None;
            }
            if f.rng.gen_bool(0.006) {
                f.push("communication_broken", day, json!({}));
                silent_until = Some(day + Days::new(f.rng.gen_range(4..20)));
                continue;
            }
            let relapse_pull = if just_out_of_rehab { 0.25 } else { 0.0 };
            let used = f.rng.gen_bool((use_rate + relapse_pull).min(0.95));
            if used {
                just_out_of_rehab = false;
            }
            if f.rng.gen_bool(coverage) {
                self.report_day(f, day, used, in_craft, practice);
            }
            if f.rng.gen_bool(0.25) {
                {
                    let value = f.rng.gen_range(5..90);
                    f.push("self_care", day, json!({"minutes": value}));
                }
            }
            let no_episode = rehab_until.is_none() && outpatient_until.is_none();
            if in_craft && no_episode && f.rng.gen_bool(0.02 * practice) {
                let response =
                    ["accepted", "declined", "deferred", "no_response"][f.rng.gen_range(0..4)];
                f.push("treatment_suggested", day, json!({"response": response}));
                if response == "accepted" && day < self.end {
                    let next = day + Days::new(1);
                    f.push("treatment_enabled", day, json!({}));
                    let (modality, length) = match f.rng.gen_range(0..4) {
                        0 => ("detox", f.rng.gen_range(4..8)),
                        1 => ("residential", f.rng.gen_range(21..35)),
                        2 => ("outpatient", f.rng.gen_range(30..90)),
                        _ => ("mutual_help", f.rng.gen_range(20..60)),
                    };
                    f.push("treatment_entered", next, json!({"modality": modality}));
                    let until = next + Days::new(length);
                    if modality == "detox" || modality == "residential" {
                        let reason = if f.rng.gen_bool(0.75) {
                            "completed"
                        } else {
                            "left_early"
                        };
                        rehab_until = Some((until, reason));
                    } else {
                        outpatient_until = Some(until);
                    }
                }
            }
        }
    }

    fn report_day(
        &self,
        f: &mut Family,
        day: NaiveDate,
        used: bool,
        in_craft: bool,
        practice: f64,
    ) {
        let skill = if in_craft { practice } else { practice * 0.2 };
        if used {
            if f.rng.gen_bool(0.01) {
                // Entered on the wrong day, then corrected.
                let id = f.push_with_id("use_observed", day, json!({"confidence": "low"}));
                f.retract(&id, "entered twice");
            }
            if f.rng.gen_bool(0.5) {
                let basis =
                    ["witnessed", "told", "signs", "third_party", "test"][f.rng.gen_range(0..5)];
                f.push(
                    "use_observed",
                    day,
                    json!({"basis": basis, "confidence": "high"}),
                );
            } else {
                f.push("day_status", day, json!({"status": "use"}));
            }
            if f.rng.gen_bool(skill) {
                let kind = [
                    "reward_withdrawn",
                    "stepped_away",
                    "natural_consequence_allowed",
                ][f.rng.gen_range(0..3)];
                f.push(kind, day, json!({}));
            }
            if f.rng.gen_bool((1.0 - skill) * 0.3) {
                {
                    let value = f.rng.gen_bool(0.2);
                    f.push("rescued", day, json!({"for_safety": value}));
                }
            }
            if f.rng.gen_bool(0.03) {
                let found = ["safe", "unsafe", "not_found"][f.rng.gen_range(0..3)];
                f.push("safety_check", day, json!({"found": found}));
            }
        } else {
            if f.rng.gen_bool(0.6) {
                f.push("clean_day_observed", day, json!({"basis": "witnessed"}));
            } else {
                f.push("day_status", day, json!({"status": "no_use"}));
            }
            if f.rng.gen_bool(skill) {
                f.push("reward_given", day, json!({}));
            }
            if f.rng.gen_bool(0.1) {
                {
                    let value = f.rng.gen_bool(0.8);
                    f.push("check_in", day, json!({"kept": value}));
                }
            }
        }
        if f.rng.gen_bool(0.5 * skill) {
            let channel = ["text", "call", "in_person", "other"][f.rng.gen_range(0..4)];
            f.push("positive_communication", day, json!({"channel": channel}));
        }
        if f.rng.gen_bool(0.02) {
            f.push(
                "note",
                day,
                json!({"text": "We talked calmly for a while."}),
            );
        }
    }
}
